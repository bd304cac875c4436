// Package atomicfile replaces a file whole or not at all, durably: the new
// contents go to a temporary file beside it, which is synced, renamed over
// the file, and then the directory is synced, so that after a crash of the
// process or of the machine the file holds either its old contents or the
// new ones, and a rename that returned survives.
//
// It is a leaf: it imports only the standard library.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with what fill writes. The file is created readable
// and writable by its owner only (0600). When fill or any step fails,
// path is unchanged and the temporary file is removed.
func Write(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// WriteBytes replaces path with b, as Write does.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// SyncDir syncs directory dir, so that the names created, renamed or
// removed in it last through a crash of the machine.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
