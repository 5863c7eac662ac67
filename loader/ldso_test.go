package loader_test

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/records"
)

// ldsoChildEnv makes this test binary load or prepare a plugin file and
// print the outcome: see ldsoChild.
const ldsoChildEnv = "PLUGINK_LOADER_LDSO_CHILD"

// ldsoJob is what an ld.so child does.
type ldsoJob struct {
	Path    string // the plugin file
	Records string // the directory of load records
	Prepare bool   // prepare only, and say whether a record vouched for the file
}

// ldsoChild runs the job spec names; its output is the test's to read.
func ldsoChild(spec string) int {
	var job ldsoJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Println(err)
		return 2
	}
	os.Setenv(records.Env, job.Records)
	loader.SetRecordSettle(0)
	l := loader.NewPlugin()
	if job.Prepare {
		recorded, _, err := loader.Prepared(l, job.Path)
		fmt.Printf("recorded=%v err=%v\n", recorded, err)
		return 0
	}
	_, err := l.Load(job.Path)
	fmt.Printf("load err=%v\n", err)
	return 0
}

// interpreter returns the dynamic linker the ELF program at path names.
func interpreter(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			_, err := p.ReadAt(b, 0)
			require.NoError(t, err)
			return strings.TrimRight(string(b), "\x00")
		}
	}
	t.Skip("the test binary is linked statically")
	return ""
}

// TestHostThroughDynamicLinker: a host started by running the dynamic
// linker (ld-linux-x86-64.so.2 ./host, as on a noexec mount) runs its
// trials through it too, and keeps load records of its own, not shared
// with every other program started that way.
func TestHostThroughDynamicLinker(t *testing.T) {
	testmod.SkipIfShort(t)
	if goruntime.GOOS != "linux" {
		t.Skip("Linux's dynamic linker")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	ldso := interpreter(t, exe)
	dir := t.TempDir()
	plugin := filepath.Join(dir, "client_echo.so")
	copyFile(t, fixturePath(t, "echo"), plugin)
	other := filepath.Join(dir, "other.test")
	copyFile(t, exe, other)
	require.NoError(t, os.Chmod(other, 0o755))
	run := func(program string, job ldsoJob) string {
		job.Path, job.Records = plugin, filepath.Join(dir, "records")
		spec, _ := json.Marshal(job)
		cmd := exec.Command(ldso, program, "-test.run=^$")
		cmd.Env = append(os.Environ(), ldsoChildEnv+"="+string(spec))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "load err=<nil>", run(exe, ldsoJob{}), "the trial runs through the dynamic linker")
	assert.Equal(t, "recorded=true err=<nil>", run(exe, ldsoJob{Prepare: true}), "the program's own record")
	assert.Equal(t, "recorded=false err=<nil>", run(other, ldsoJob{Prepare: true}), "another program started through the dynamic linker")
}
