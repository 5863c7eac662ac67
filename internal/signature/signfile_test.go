package signature

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/sums"
)

// TestSignFile: a build signs each file it builds or keeps; a kept file's
// .sig is rewritten only if it is not the key's signature of the file;
// without a key, a rebuilt file's .sig goes and a kept file's stays.
func TestSignFile(t *testing.T) {
	dir := t.TempDir()
	kf, err := WriteKeyPair(filepath.Join(dir, "release"))
	require.NoError(t, err)
	s, err := ReadSigner(kf.Private)
	require.NoError(t, err)
	otherKF, err := WriteKeyPair(filepath.Join(dir, "other"))
	require.NoError(t, err)
	other, err := ReadSigner(otherKF.Private)
	require.NoError(t, err)

	file := filepath.Join(dir, "client_x.so")
	require.NoError(t, os.WriteFile(file, []byte("plugin bytes"), 0o755))
	sigFile := file + ".sig"
	verifies := func() bool {
		sig, err := ReadSignature(sigFile)
		require.NoError(t, err)
		pub, err := ParsePublicKey(kf.PublicKey)
		require.NoError(t, err)
		_, err = Verify([]PublicKey{pub}, sha256.Sum256([]byte("plugin bytes")), sig)
		return err == nil
	}

	changed, err := SignFile(file, sumOf(t, file), s, true)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.True(t, verifies())
	fi, err := os.Stat(sigFile)
	require.NoError(t, err)

	changed, err = SignFile(file, sumOf(t, file), s, false)
	require.NoError(t, err)
	assert.False(t, changed, "already this key's signature of these bytes")
	now, err := os.Stat(sigFile)
	require.NoError(t, err)
	assert.True(t, os.SameFile(fi, now) && fi.ModTime().Equal(now.ModTime()), "not rewritten")

	for name, setup := range map[string]func(){
		"missing":       func() { os.Remove(sigFile) },
		"another key's": func() { _, err := SignFile(file, sumOf(t, file), other, false); require.NoError(t, err) },
		"garbled":       func() { require.NoError(t, os.WriteFile(sigFile, []byte("garbage\n"), 0o644)) },
		"another file's": func() {
			require.NoError(t, os.WriteFile(sigFile, Sign(s.key, sha256.Sum256(nil)).Marshal(), 0o644))
		},
		"too large": func() {
			require.NoError(t, os.WriteFile(sigFile, bytes.Repeat([]byte("a"), MaxFile+1), 0o644))
		},
		"a directory":     func() { os.Remove(sigFile); require.NoError(t, os.Mkdir(sigFile, 0o755)) },
		"a dangling link": func() { os.Remove(sigFile); require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), sigFile)) },
	} {
		t.Run(name, func(t *testing.T) {
			setup()
			changed, err := SignFile(file, sumOf(t, file), s, false)
			require.NoError(t, err)
			assert.True(t, changed, "signed again")
			assert.True(t, verifies())
		})
	}

	t.Run("without a key", func(t *testing.T) {
		changed, err := SignFile(file, sumOf(t, file), nil, false)
		require.NoError(t, err)
		assert.False(t, changed)
		assert.FileExists(t, sigFile, "a kept file's .sig stays")
		changed, err = SignFile(file, sumOf(t, file), nil, true)
		require.NoError(t, err)
		assert.True(t, changed)
		assert.NoFileExists(t, sigFile, "a rebuilt file's .sig is another file's: it goes")
		changed, err = SignFile(file, sumOf(t, file), nil, true)
		require.NoError(t, err)
		assert.False(t, changed)
	})

	_, err = ReadSigner(file)
	assert.ErrorContains(t, err, "sign: "+file+": private key: want the header line")
}

// sumOf returns the SHA-256 of the file at path, as a build knows it.
func sumOf(t *testing.T, path string) string {
	t.Helper()
	sum, err := sums.File(path)
	require.NoError(t, err)
	return sum
}
