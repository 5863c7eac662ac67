// Command wrongtype is a plugin main package whose Plugin is not a
// runtime.Config.
package main

// Config looks like runtime.Config but is another type.
type Config struct{ Name, Type, Path string }

// Plugin has the wrong type.
var Plugin = Config{Name: "wrongtype", Type: "client", Path: "example.com/wrongtype"}

func main() {}
