package node

import (
	"fmt"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

// Spawn starts a process whose parent is init and returns its PID. The process
// leads a new session and process group.
func (k *ProcessManager) Spawn(spec Spec) (int, error) {
	var files [3]*File
	files[0] = newHostReaderFile(spec.Stdin)
	files[1] = newHostWriterFile(spec.Stdout)
	files[2] = newHostWriterFile(spec.Stderr)
	if spec.Stdout != nil && spec.Stdout == spec.Stderr {
		files[2].release()
		files[2] = files[1].ref()
	}
	all, err := inheritedFiles(files[:], spec.Inherited)
	if err != nil {
		for _, f := range all {
			f.release()
		}
		for _, d := range spec.Inherited {
			if d.File != nil {
				d.File.Close()
			}
		}
		return 0, err
	}
	attr := SpawnAttr{
		Command: spec.Command, Args: spec.Args, Env: spec.Env, Dir: spec.Cwd,
		Priority: spec.Priority, Limits: spec.Limits, Setsid: spec.Sid == 0,
		pgid: spec.Pgid, sid: spec.Sid, ppid: spec.ParentPID,
		Capabilities: spec.Capabilities, UnveilPaths: spec.UnveilPaths,
	}
	owner := spec.Owner
	if owner == "" {
		owner = k.cfg.Owner
	}
	p, err := k.spawnPID(k.init, attr, owner, all, spec.PID)
	for _, f := range all {
		if f != nil {
			f.release() // the new process holds its own references
		}
	}
	if err != nil {
		return 0, err
	}
	return p.PID, nil
}

// SpawnAttr describes a child spawned by a process (posix_spawn-like).
type SpawnAttr struct {
	Command  string
	Args     []string // arguments after the command
	Env      []string // nil: inherit the parent's environment
	Dir      string   // "": inherit the parent's cwd; relative to it otherwise
	Priority int      // 0: inherit the parent's priority
	Limits   *ResourceLimits
	// Files maps the child's descriptors: child fd i gets the parent's
	// descriptor Files[i], or none when Files[i] is -1. Nil inherits 0, 1
	// and 2 as they are, except those with FD_CLOEXEC, which the child does
	// not get (as posix_spawn(3) closes them).
	Files []int
	// Pgid puts the child in a process group: 0 keeps the parent's, -1
	// makes the child lead a new group, any other value joins that group.
	Pgid int
	// Setsid makes the child lead a new session and group.
	Setsid bool

	Capabilities security.Promise // zero: inherit; otherwise narrowed
	UnveilPaths  []security.UnveilPath

	// Node, in a cluster, is the node the child must run on; "" places it
	// on the parent's node. The kernel only passes it to Config.PIDs. A
	// child that runs on another node inherits its descriptors as a local
	// child would, each through a stream to this node (inherit.go); its
	// parent waits for it, and gets SIGCHLD for it, as for a local child.
	Node string

	// Set by the library's Spawn from Spec.Pgid, Sid and ParentPID.
	pgid, sid, ppid int
}

// spawn creates a child of parent. files are the child's descriptors; spawn
// takes its own reference on each.
func (k *ProcessManager) spawn(parent *Process, a SpawnAttr, owner string, files []*File) (*Process, error) {
	return k.spawnPID(parent, a, owner, files, 0)
}

// allocPID returns a PID from the configured allocator, for a spawn by
// parent (init: the library). A process gives up its slot while it waits.
func (k *ProcessManager) allocPID(parent *Process, a SpawnAttr, prio int, env []string, cwd string, files []ExportedFD) (al Allocation, err error) {
	if k.cfg.PIDs == nil {
		if a.Node != "" {
			return al, fmt.Errorf("%w: node %q: this kernel runs every process itself", ipc.EINVAL, a.Node)
		}
		return al, nil
	}
	req := PIDRequest{Parent: parent.PID, Command: a.Command, Args: a.Args, Priority: prio,
		Env: env, Cwd: cwd, Node: a.Node, Pgid: a.Pgid, Setsid: a.Setsid, Files: files}
	caps, unveil, _, err := childSecurity(parent, a.Capabilities, a.UnveilPaths)
	if err != nil {
		return al, err
	}
	req.Promises, req.Unveil = caps, unveil
	alloc := func() { al, err = k.cfg.PIDs.AllocPID(req) }
	if parent == k.init {
		alloc()
	} else if e := parent.blockingCall(alloc); e != nil {
		if err == nil && al.PID > InitPID {
			k.releasePID(al.PID)
		}
		return Allocation{}, e
	}
	if err == nil && al.PID <= InitPID {
		err = fmt.Errorf("%w: allocated PID %d", ipc.EINVAL, al.PID)
	}
	return al, err
}

// releasePID tells the allocator that pid, which it allocated, will not be
// used.
func (k *ProcessManager) releasePID(pid int) {
	if r, ok := k.cfg.PIDs.(PIDReleaser); ok {
		r.ReleasePID(pid)
	}
}

func (k *ProcessManager) spawnPID(parent *Process, a SpawnAttr, owner string, files []*File, pid int) (*Process, error) {
	if pid < 0 || pid == InitPID {
		return nil, fmt.Errorf("%w: PID %d", ipc.EINVAL, pid)
	}
	prog, ok := k.programs.Lookup(a.Command)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProgram, a.Command)
	}
	prio := a.Priority
	if prio == 0 {
		prio = parent.Priority
	}
	if prio < 1 || prio > 100 {
		return nil, fmt.Errorf("%w: priority %d is outside 1..100", ipc.EINVAL, a.Priority)
	}
	limits, err := Inherit(parent.Limits, a.Limits)
	if err != nil {
		return nil, err
	}
	cwd := parent.Cwd
	if a.Dir != "" {
		if cwd, err = k.resolveDir(parent.Cwd, a.Dir); err != nil {
			return nil, err
		}
	}
	caps, unveil, inherited, err := childSecurity(parent, a.Capabilities, a.UnveilPaths)
	if err != nil {
		return nil, err
	}
	env := a.Env
	if env == nil {
		env = parent.environ()
	}
	p := &Process{
		Command: a.Command, Args: a.Args, Env: env, Cwd: cwd,
		Capabilities: caps, UnveilPaths: unveil, inheritedUnveil: inherited, Limits: limits,
		Priority: prio, Owner: owner, CreatedAt: time.Now(),
		k: k, prog: prog,
		weight: Weight(prio), heapIdx: -1,
	}
	p.initPark()
	p.sys.p = p
	if len(files) > 0 {
		p.Files = make([]*File, len(files))
		for i, f := range files {
			if f != nil {
				p.Files[i] = f.ref()
			}
		}
		if err := p.chargeAll(); err != nil {
			p.closeAllFiles()
			return nil, err
		}
	}
	if parent != k.init {
		p.mask = parent.sigMask() // the mask is inherited; handlers are not
	}
	allocated := false
	if pid == 0 {
		var exported []ExportedFD
		if a.Node != "" && k.cfg.PIDs != nil {
			exported = k.exports.add(p.Files)
		}
		al, err := k.allocPID(parent, a, prio, env, cwd, exported)
		if err != nil || !al.Elsewhere {
			k.exports.drop(exported) // the child runs here, with the Files themselves
		}
		if err != nil {
			p.closeAllFiles()
			return nil, err
		}
		pid, allocated = al.PID, al.PID != 0
		if al.Elsewhere {
			// The child's node claims the exports; here the record holds
			// no descriptors.
			k.exports.bind(exported, pid)
			p.closeAllFiles()
			return k.addRemoteChild(parent, p, a, pid)
		}
	}
	// fail undoes the spawn under the tree lock.
	fail := func(err error) (*Process, error) {
		k.mu.Unlock()
		p.closeAllFiles()
		if allocated {
			k.releasePID(pid)
		}
		return nil, err
	}

	k.mu.Lock()
	switch {
	case k.closing:
		return fail(ErrShutdown)
	case k.nlive >= k.cfg.MaxProcesses:
		return fail(fmt.Errorf("%w: the node's process limit is reached", ipc.EAGAIN))
	case parent != k.init && uint64(parent.nchildren) >= parent.Limits.Get(RNProc).Soft:
		return fail(fmt.Errorf("%w: child process limit (nproc) reached", ipc.EAGAIN))
	}
	if pid == 0 {
		pid = k.nextPID
		k.nextPID++
	} else if _, used := k.procs[pid]; used {
		return fail(fmt.Errorf("%w: PID %d is in use", ipc.EEXIST, pid))
	} else if pid >= k.nextPID {
		k.nextPID = pid + 1 // the local counter never hands it out again
	}
	p.PID = pid
	p.Pgid, p.Sid = parent.Pgid, parent.Sid
	switch {
	case a.sid != 0:
		p.Pgid, p.Sid = a.pgid, a.sid
		if a.pgid == 0 {
			p.Pgid = a.sid
		}
	case a.Setsid:
		p.Pgid, p.Sid = p.PID, p.PID
	case a.Pgid == -1:
		p.Pgid = p.PID
	case a.Pgid > 0:
		if !k.groupInSessionLocked(a.Pgid, p.Sid) {
			return fail(fmt.Errorf("%w: no process group %d in the session", ipc.EPERM, a.Pgid))
		}
		p.Pgid = a.Pgid
	}
	p.parent = parent
	p.ParentPID = parent.PID
	if a.ppid > InitPID {
		p.ParentPID = a.ppid
	}
	parent.children.push(p)
	parent.nchildren++
	k.procs[p.PID] = p
	k.nlive++
	k.wg.Add(1)
	k.mu.Unlock()

	k.sched.schedule(p)
	go k.run(p)
	return p, nil
}

func (k *ProcessManager) groupInSessionLocked(pgid, sid int) bool {
	leader, ok := k.procs[pgid]
	if ok && leader.Pgid == pgid && leader.Sid == sid {
		return true
	}
	for _, q := range k.procs {
		if q.Pgid == pgid && q.Sid == sid && q.state() != StateZombie {
			return true
		}
	}
	return false
}
