// Package process runs plugins as child processes: plugink's third mode,
// on hashicorp/go-plugin (net/rpc over one multiplexed connection).
//
// A host built from a manifest with process plugins (mode: process, or
// every plugin with -tags plugink_process) registers, under each plugin's
// name, a generated constructor that calls [Open] for the plugin and
// returns a generated client implementing the kind's interface. The
// plugin's executable, made by plugink build, runs a generated main that
// calls [Serve] with a generated receiver wrapping the plugin's real
// constructor. Both sides are generated from the same type-checked
// interface; its shape (the text [Spec.Shape]) gives the handshake's
// protocol version, so a plugin built for another shape is refused before
// any call.
//
// The host side keeps, for each plugin, at most one process serving new
// calls. A process that dies fails the calls in flight with an error that
// names the plugin and how it ended ([ExitError]); the next call starts it
// again, after a back-off that grows with consecutive failures. A call's
// context bounds it, even against a hung plugin. On the manifest's upgrade
// signal, a plugin whose executable changed is started again and the old
// process drains (the calls in flight end) before it is killed; closing a
// plugin's last instance ends its process the same way. What the plugin
// writes to its stderr and stdout reaches the host's log, each line
// prefixed with the plugin's name.
//
// Generated code is the only intended caller of this package's
// exported names; they are the contract between the generator (package
// gen/emit) and the two processes, and change with plugink's version.
package process
