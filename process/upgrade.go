package process

import (
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/runtime"
)

// upgradeSignal returns the signal named name, if the platform has it.
func upgradeSignal(name string) (os.Signal, bool) {
	if runtime.CheckUpgradeSignal(name) != nil {
		return nil, false
	}
	s, err := runtime.SignalNamed(name)
	return s, err == nil
}

// watch upgrades the plugins whose spec names the signal name on each
// delivery of sig.
func watch(name string, sig os.Signal) {
	c := make(chan os.Signal, 1) // signals during an upgrade make one more
	signal.Notify(c, sig)
	go func() {
		for range c {
			registry.Lock()
			var ps []*Plugin
			for _, p := range registry.plugins {
				if p.spec.UpgradeSignal == name {
					ps = append(ps, p)
				}
			}
			registry.Unlock()
			for _, p := range ps {
				changed, err := p.Upgrade()
				switch {
				case err != nil:
					log.Printf("plugin %s: upgrade on %s: %v; the running process keeps serving", p.spec.String(), name, err)
				case changed:
					log.Printf("plugin %s: upgraded on %s: a new process serves new calls; the old one ends once its calls in flight have returned", p.spec.String(), name)
				default:
					// Said, as the loader says it of .so files: a signal
					// sent before the new build was in place does nothing.
					log.Printf("plugin %s: %s: nothing to upgrade (no process runs, or its executable is unchanged)", p.spec.String(), name)
				}
			}
		}
	}()
}

// Upgrade starts the plugin's executable again if it changed since the
// running process started: once the new process has started, it serves
// new calls, and the old one ends when its calls in flight have (the
// instances are constructed again in the new process at their next
// call). With no process running, or an unchanged executable, it does
// nothing and reports false; if the new process cannot start, the old
// one keeps serving. Upgrades of a plugin run one at a time.
func (p *Plugin) Upgrade() (bool, error) {
	// Two upgrades at once (a signal, and a call) would both start a
	// process, and the second find the first's and fail.
	p.upgrading.Lock()
	defer p.upgrading.Unlock()
	p.mu.Lock()
	g := p.cur
	p.mu.Unlock()
	if g == nil || g.dead.Load() || g.hasExited() {
		return false, nil
	}
	if changed, err := g.changed(p.path()); err != nil || !changed {
		return false, err
	}
	ng, err := p.launch()
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	if p.cur != g || g.dead.Load() {
		p.mu.Unlock()
		go ng.retire()
		return false, fmt.Errorf("the process changed during the upgrade")
	}
	p.cur = ng
	p.mu.Unlock()
	go g.retire()
	return true, nil
}

// Pid returns the process ID of the process serving new calls, or 0.
func (p *Plugin) Pid() int {
	p.mu.Lock()
	g := p.cur
	p.mu.Unlock()
	if g == nil || g.dead.Load() || g.hasExited() {
		return 0
	}
	if rc := g.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// changed reports whether the executable at path is another than g runs:
// by its checksum if g's was checked, else by the file's identity, size
// and modification time (a rebuild that renames a new file over it
// changes them, even to the same bytes).
func (g *generation) changed(path string) (bool, error) {
	if g.sum != "" {
		sum, err := sums.File(path)
		return sum != g.sum, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	same := os.SameFile(fi, g.info) && fi.Size() == g.info.Size() && fi.ModTime().Equal(g.info.ModTime())
	return !same, nil
}
