package loader_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/signature"
	sumfile "github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// testKey returns the key whose seed is 32 bytes b: the same every run.
func testKey(t testing.TB, b byte) signature.PrivateKey {
	t.Helper()
	k, err := signature.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{b}, ed25519.SeedSize)))
	require.NoError(t, err)
	return k
}

// signFile writes the signature of the file at path by k beside it.
func signFile(t testing.TB, k signature.PrivateKey, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(signature.FileFor(path), signature.Sign(k, sha256.Sum256(data)).Marshal(), 0o644))
}

// initLog points $PLUGINK_TEST_INIT_LOG at a new file, and returns a
// function that counts the inits of the initlog plugin logged there: the
// processes that opened it.
func initLog(t *testing.T) func() int {
	log := filepath.Join(t.TempDir(), "inits")
	t.Setenv("PLUGINK_TEST_INIT_LOG", log)
	return func() int {
		data, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		return strings.Count(string(data), "init\n")
	}
}

// watchReads records each time the loader maps a file to check it, reads
// its headers, or opens it, until the test ends.
func watchReads(t *testing.T) func() []string {
	var mu sync.Mutex
	var seen []string
	add := func(what string) {
		mu.Lock()
		seen = append(seen, what)
		mu.Unlock()
	}
	t.Cleanup(loader.SetMapped(func(p string) { add("mapped " + p) }))
	t.Cleanup(loader.SetChecking(func(p string) { add("checked " + p) }))
	t.Cleanup(loader.SetBeforeOpen(func() { add("opened") }))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

// TestSignedPlugins: with keys pinned, a file loads only if a pinned key
// signed its bytes; every other file is refused before anything reads it
// (no mapping, no header read, no trial, no open, nothing registered). A
// signed file counts as verified: no trial runs.
func TestSignedPlugins(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	file := filepath.Join(t.TempDir(), "client_initlog.so")
	copyFile(t, fixturePath(t, "initlog"), file)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	good := signature.Sign(key, sha256.Sum256(data)).Marshal()
	inits := initLog(t)
	reads := watchReads(t)
	sigFile := file + ".sig"
	pinned := key.Public().ID()

	tests := []struct {
		name string
		sig  []byte // nil: no .sig
		want string
		hint string
	}{
		{"unsigned", nil, "load " + file + ": signature check failed: no signature: " + sigFile + " does not exist, and this program loads only files that a key it pins signed (pinned: " + pinned + ")",
			"sign the plugins: plugink build -sign <the .key file of a key this program pins> (pinned: " + pinned + ")"},
		{"signed by another key", signature.Sign(other, sha256.Sum256(data)).Marshal(),
			"load " + file + ": signature check failed: signed by key " + other.Public().ID() + ", which is not pinned (pinned: " + pinned + ")",
			"the file changed since it was signed, or its .sig is another file's or another key's; build and sign it again: plugink build -sign"},
		{"a signature of other bytes", signature.Sign(key, sha256.Sum256(append(data, 0))).Marshal(),
			"load " + file + ": signature check failed: the signature by key " + pinned + " does not verify: the file is not the one the key signed", "build and sign it again"},
		{"another key's signature under the pinned key's ID", []byte(strings.Replace(string(signature.Sign(other, sha256.Sum256(data)).Marshal()), other.Public().ID(), pinned, 1)),
			"the signature by key " + pinned + " does not verify", "build and sign it again"},
		{"truncated", good[:len(good)/2], "load " + file + ": signature check failed: " + sigFile + ": malformed signature: not standard base64", "sign the plugins: plugink build -sign"},
		{"empty", []byte{}, sigFile + ": malformed signature: want one line", "sign the plugins: plugink build -sign"},
		{"garbled", garble(good), "signature check failed", "plugink build -sign"},
		{"binary garbage", []byte("\x7fELF\x00\x01\x02\xff\n"), sigFile + ": malformed signature: want one line", "sign the plugins: plugink build -sign"},
		{"too large", bytes.Repeat([]byte("a"), signature.MaxFile+1), "signature check failed: read " + sigFile + ": file too large", "sign the plugins: plugink build -sign"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(sigFile)
			if tc.sig != nil {
				require.NoError(t, os.WriteFile(sigFile, tc.sig, 0o644))
			}
			reg, kind := newRegistry(t)
			l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithTrustedKeys(key.Public().String()), loader.WithoutRecords())
			_, err := l.LoadAll([]string{file})
			require.ErrorIs(t, err, loader.ErrSignature)
			assert.Contains(t, err.Error(), tc.want)
			require.Len(t, runtime.Hints(err), 1)
			assert.Contains(t, runtime.Hints(err)[0], tc.hint)
			assert.Empty(t, reads(), "nothing of the file is read before its signature verifies")
			assert.Zero(t, inits(), "no trial, no open")
			assert.Empty(t, kind.Names())
		})
	}

	t.Run("a key that does not parse", func(t *testing.T) {
		require.NoError(t, os.WriteFile(sigFile, good, 0o644))
		l := loader.NewPlugin(loader.WithRegistry(runtime.NewRegistry()), loader.WithTrustedKeys(key.Public().String(), "plugink-ed25519 AAAA"))
		_, err := l.Load(file)
		require.ErrorIs(t, err, loader.ErrSignature)
		assert.Equal(t, "load "+file+": signature check failed: trusted key 2 of 2: public key: decodes to 3 bytes; an Ed25519 public key has 32", err.Error())
		assert.Empty(t, reads())
	})

	t.Run("signed by a pinned key", func(t *testing.T) {
		require.NoError(t, os.WriteFile(sigFile, good, 0o644))
		reg, kind := newRegistry(t)
		l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithTrustedKeys(other.Public().String()), loader.WithTrustedKeys(key.Public().String()), loader.WithoutRecords())
		cfgs, err := l.LoadAll([]string{file})
		require.NoError(t, err)
		assert.Equal(t, "client/initlog", cfgs[0].String())
		assert.Equal(t, []string{"initlog"}, kind.Names())
		assert.Equal(t, 1, inits(), "its init ran once, here: a signed file has no trial")
		assert.Contains(t, reads(), "opened")
	})
}

// TestSignedPluginsWithChecksums: a signed file's plugink.sum line must
// agree with the bytes signed; one missing is no error, even where
// checksums are required.
func TestSignedPluginsWithChecksums(t *testing.T) {
	key := testKey(t, 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "client_echo.so")
	copyFile(t, fixturePath(t, "echo"), file)
	signFile(t, key, file)
	l := loader.NewPlugin(loader.WithRegistry(runtime.NewRegistry()), loader.WithTrustedKeys(key.Public().String()), loader.WithSumsRequired())
	_, _, err := loader.Prepared(l, file)
	require.NoError(t, err, "signed, no checksum recorded")

	require.NoError(t, sumfile.Write(filepath.Join(dir, sumfile.FileName), loader.Sums{file: strings.Repeat("0", 64)}))
	l = loader.NewPlugin(loader.WithRegistry(runtime.NewRegistry()), loader.WithTrustedKeys(key.Public().String()))
	_, err = l.Load(file)
	require.ErrorIs(t, err, loader.ErrChecksum, "a plugink.sum that disagrees with the signed bytes")
}

// TestSignedManifest: a manifest's trusted keys cover the files of the
// plugin directory and those MICRO_PLUGIN names; a key that does not
// parse fails Load before any file is read.
func TestSignedManifest(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	env := filepath.Join(t.TempDir(), "client_signedenv.so")
	copyFile(t, fixturePath(t, "signedenv"), env)
	reads := watchReads(t)
	load := func(m *loader.Manifest) (*runtime.Kind[testkind.NewFunc], error) {
		reg, kind := newRegistry(t)
		fs := flag.NewFlagSet("svc", flag.ContinueOnError)
		m.RegisterFlag(fs)
		require.NoError(t, fs.Parse([]string{"-plugin_dir", t.TempDir()}))
		return kind, m.Load(loader.WithRegistry(reg), loader.WithoutRecords())
	}
	t.Setenv(loader.EnvPlugins, env)

	_, err := load(&loader.Manifest{File: "plugink.yaml", TrustedKeys: []string{key.Public().String(), "ssh-ed25519 AAAA", ""}})
	require.ErrorIs(t, err, loader.ErrSignature)
	assert.Equal(t, `plugink.yaml: dynamic.trusted_keys: signature check failed: trusted key 2 of 3: public key: want "plugink-ed25519 <base64 of a 32-byte Ed25519 key>" (the line of a .pub file)`, err.Error())
	assert.Empty(t, reads())

	_, err = load(&loader.Manifest{File: "plugink.yaml", TrustedKeys: []string{key.Public().String()}})
	require.ErrorIs(t, err, loader.ErrSignature)
	assert.Contains(t, err.Error(), "MICRO_PLUGIN: load "+env+": signature check failed: no signature: "+env+".sig does not exist")
	assert.Empty(t, reads())

	signFile(t, other, env)
	_, err = load(&loader.Manifest{File: "plugink.yaml", TrustedKeys: []string{key.Public().String()}})
	require.ErrorIs(t, err, loader.ErrSignature)
	assert.Contains(t, err.Error(), "MICRO_PLUGIN: load "+env+": signature check failed: signed by key "+other.Public().ID()+", which is not pinned")
	assert.Empty(t, reads())

	signFile(t, key, env)
	kind, err := load(&loader.Manifest{File: "plugink.yaml", TrustedKeys: []string{key.Public().String()}})
	require.NoError(t, err)
	assert.Equal(t, []string{"signedenv"}, kind.Names())
}

// TestSignedUpgrade: with keys pinned, an upgrade to a file no pinned key
// signed is refused, its copy never checked nor opened, and the old
// generation stays; the signature is verified over the copy, the bytes
// opened.
func TestSignedUpgrade(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	first := filepath.Join(t.TempDir(), "client_up.so")
	copyFile(t, fixturePath(t, "sig1"), first)
	signFile(t, key, first)
	file, install := upgradeFile(t)
	fixturePath(t, "sig2")
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithTrustedKeys(key.Public().String()))
	_, err := l.LoadAll([]string{first})
	require.NoError(t, err)
	assert.Equal(t, "s1: hi", reply(t, kind))
	reads := watchReads(t)

	install("sig2")
	_, err = l.Upgrade(file)
	require.ErrorIs(t, err, loader.ErrSignature)
	assert.Contains(t, err.Error(), "upgrade "+file+": signature check failed: no signature: "+file+".sig does not exist")
	assert.Empty(t, reads())
	assert.Equal(t, "s1: hi", reply(t, kind), "the old generation stays")

	// A signature of the file before it changed: the copy's bytes are not
	// the ones signed.
	signFile(t, key, file)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, append(data, 0), 0o755))
	_, err = l.Upgrade(file)
	require.ErrorIs(t, err, loader.ErrSignature)
	assert.Contains(t, err.Error(), "the signature by key "+key.Public().ID()+" does not verify")
	assert.Empty(t, reads(), "the copy is neither checked nor opened")
	assert.Equal(t, "s1: hi", reply(t, kind))
	entries, err := os.ReadDir(filepath.Dir(file))
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), ".plugink-upgrade-"), "the copy is removed: %s", e.Name())
	}

	install("sig2")
	signFile(t, other, file)
	_, err = l.Upgrade(file)
	require.ErrorIs(t, err, loader.ErrSignature)
	assert.Contains(t, err.Error(), "signed by key "+other.Public().ID()+", which is not pinned")
	assert.Equal(t, "s1: hi", reply(t, kind))

	signFile(t, key, file)
	u, err := l.Upgrade(file)
	require.NoError(t, err)
	assert.True(t, u.Changed)
	assert.Equal(t, "s2: hi", reply(t, kind))
}

// garble returns a copy of the signature line sig with one character of
// its base64 signature changed to another base64 character: a signature
// that parses and does not verify, whatever the key drew.
func garble(sig []byte) []byte {
	out := bytes.Clone(sig)
	i := bytes.LastIndexByte(out, ' ') + 10 // inside the base64 signature
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}
