// Command app declares a kind's map in a main package, which the generated
// files of another package could not import.
package main

// DefaultClients would be a fine kind anywhere but in a main package.
var DefaultClients = map[string]func() string{}

func main() {}
