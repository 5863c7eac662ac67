// Command noplugin is a plugin main package without a Plugin variable.
package main

// Something is exported, but it is not Plugin.
var Something = 42

func main() {}
