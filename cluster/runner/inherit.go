package runner

import (
	"fmt"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Descriptors a child inherits from a parent on another node
// (node/inherit.go). The parent's kernel exports the open files and
// AllocPID records them in the child's spec (Spec.Files: node, export,
// descriptor, flags); the runner of the child's node opens one stream per
// export (Inheritor, the node's ipcnet.Net) and starts the process with
// them at their descriptors. An export is claimed once: a later
// incarnation of the child, or a start whose streams cannot be opened,
// does not start (codeCannotStart), and its parent's side sees the
// descriptors closed.

// Inheritor opens the stream to an open file another node exported for a
// child that runs here.
type Inheritor interface {
	OpenInherited(node string, export uint64) (node.InheritedFile, error)
}

// SetInheritor gives the runner its way to inherited descriptors. Call it
// once, before Start; without it a process that inherits descriptors
// does not start.
func (r *Runner) SetInheritor(i Inheritor) { r.files = i }

// fileRefs is what the table records of a child's exported descriptors:
// they are on this node.
func (r *Runner) fileRefs(fds []node.ExportedFD) []fsm.FileRef {
	if len(fds) == 0 {
		return nil
	}
	out := make([]fsm.FileRef, len(fds))
	for i, d := range fds {
		out[i] = fsm.FileRef{Fd: d.Fd, Node: r.name, Export: d.Export, Flags: d.Flags}
	}
	return out
}

// openInherited opens the streams of a process's inherited descriptors,
// one per export. On failure it closes what it opened.
func (r *Runner) openInherited(refs []fsm.FileRef) ([]node.InheritedFD, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if r.files == nil {
		return nil, fmt.Errorf("%w: inherited descriptors are not available on this node", ipc.ENOTSUP)
	}
	type key struct {
		node   string
		export uint64
	}
	opened := make(map[key]node.InheritedFile)
	out := make([]node.InheritedFD, 0, len(refs))
	for _, ref := range refs {
		k := key{ref.Node, ref.Export}
		f := opened[k]
		if f == nil {
			var err error
			if f, err = r.files.OpenInherited(ref.Node, ref.Export); err != nil {
				for _, g := range opened {
					g.Close()
				}
				return nil, fmt.Errorf("inherited descriptor %d from node %s: %w", ref.Fd, ref.Node, err)
			}
			opened[k] = f
		}
		out = append(out, node.InheritedFD{Fd: ref.Fd, File: f, Flags: ref.Flags})
	}
	return out, nil
}
