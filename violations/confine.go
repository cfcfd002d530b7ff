package violations

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Evidence files live under <data_dir>/clips and nowhere else. The paths
// iocd builds are safe by construction (safeName, evidencePath); these
// checks add that no symlink inside clips/ leads out of it, so that a
// planted link (clips/site -> /etc) cannot make iocd serve, hash or
// delete a file elsewhere. clips/ itself may be a symlink (to a bigger
// disk): it is resolved first, and everything must resolve inside that.

// clipsDir is where evidence lives under dataDir.
func clipsDir(dataDir string) string { return filepath.Join(dataDir, "clips") }

// errOutsideClips is returned for a path that resolves outside clips/.
var errOutsideClips = errors.New("evidence path resolves outside the clips directory")

// confined reports an error if path, or the nearest of its ancestors that
// exists, resolves (symlinks followed) outside dataDir/clips.
func confined(dataDir, path string) error {
	root, err := filepath.EvalSymlinks(clipsDir(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no clips yet, so nothing to be led out of
	}
	if err != nil {
		return fmt.Errorf("resolving the clips directory: %w", err)
	}
	p := path
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
				return errOutsideClips
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("resolving an evidence path: %w", err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// openEvidence opens dataDir/rel (rel as evidencePath checked it) through
// an os.Root on clips/, which refuses, race-free, any symlink that leads
// out of it.
func openEvidence(dataDir, rel string) (*os.File, error) {
	under, ok := strings.CutPrefix(filepath.ToSlash(rel), "clips/")
	if !ok {
		return nil, fmt.Errorf("evidence path %q is not under clips/", rel)
	}
	f, err := os.OpenInRoot(clipsDir(dataDir), filepath.FromSlash(under))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", errOutsideClips, err)
	}
	return f, err
}
