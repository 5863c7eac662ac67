package mapped

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadMappedTruncated: a mapped file cut short while it is read makes
// the read of the lost part fault; Read returns an error instead of
// the process dying of SIGBUS.
func TestReadMappedTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, make([]byte, 1<<20), 0o644))
	read := false
	err := Read(path, func(r io.ReaderAt, fi fs.FileInfo) error {
		m, ok := r.(*File)
		require.True(t, ok, "the file is mapped")
		require.NoError(t, os.Truncate(path, 0))
		read = true
		if m.data[fi.Size()-1] != 0 { // past the end of the file now
			return errors.New("read a byte the file does not have")
		}
		return nil
	})
	assert.True(t, read)
	require.ErrorIs(t, err, ErrTruncated)

	t.Run("a run-time error is an error", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, make([]byte, 4096), 0o644))
		err := Read(path, func(r io.ReaderAt, fi fs.FileInfo) error {
			var table []byte
			_ = table[fi.Size()] // as a check would, misled by a file rewritten meanwhile
			return nil
		})
		require.ErrorIs(t, err, ErrChanged)
		assert.Contains(t, err.Error(), "index out of range")
	})
	t.Run("other panics go on", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, make([]byte, 4096), 0o644))
		assert.PanicsWithValue(t, "boom", func() {
			_ = Read(path, func(io.ReaderAt, fs.FileInfo) error { panic("boom") })
		})
	})
	t.Run("an empty file is read, not mapped", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		err := Read(path, func(r io.ReaderAt, fi fs.FileInfo) error {
			_, mapped := r.(*File)
			assert.False(t, mapped)
			_, err := r.ReadAt(make([]byte, 1), 0)
			return err
		})
		assert.True(t, errors.Is(err, io.EOF), "%v", err)
	})
}

func TestMappedFileReadAt(t *testing.T) {
	m := &File{data: []byte("abcdef")}
	b := make([]byte, 4)
	n, err := m.ReadAt(b, 4)
	assert.Equal(t, 2, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "ef", string(b[:n]))
	n, err = m.ReadAt(b, 1)
	assert.NoError(t, err)
	assert.Equal(t, "bcde", string(b[:n]))
	_, err = m.ReadAt(b, 6)
	assert.ErrorIs(t, err, io.EOF)
	_, err = m.ReadAt(b, -1)
	assert.Error(t, err)
}
