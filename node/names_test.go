package node

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/ipc"
)

// fakeNames is a registry shared by the kernels of a test, with the remote
// descriptors made of the holding kernel's own objects in process.
type fakeNames struct {
	self string
	reg  *fakeRegistry
}

type fakeRegistry struct {
	mu      sync.Mutex
	names   map[string]string // kind+name → node; guarded by mu
	lost    map[string]bool   // node → lost; guarded by mu
	kernels map[string]*ProcessManager
	// afterRegister, if set, runs after a successful Register, outside mu.
	afterRegister func()
	// failUnregister, if set, is returned by the next Unregister.
	failUnregister error
	// tags holds the ctxTag of each Register and Unregister's context,
	// in order ("" for none). Guarded by mu.
	tags []string
	// replays holds the names (kind+name) whose Register answers success
	// when the name is already registered to the caller: a retried
	// client request whose earlier attempt registered it. Guarded by mu.
	replays map[string]bool
}

func (f fakeNames) Register(ctx context.Context, kind NameKind, name string, _ NameInfo) error {
	f.reg.saw(ctx)
	r := f.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if node, ok := r.names[string(kind)+name]; ok {
		if node == f.self && r.replays[string(kind)+name] {
			return nil
		}
		return ipc.EEXIST
	}
	r.names[string(kind)+name] = f.self
	if hook := r.afterRegister; hook != nil {
		r.mu.Unlock()
		hook()
		r.mu.Lock()
	}
	return nil
}

func (f fakeNames) Unregister(ctx context.Context, kind NameKind, name string, local bool) error {
	f.reg.saw(ctx)
	r := f.reg
	r.mu.Lock()
	if err := r.failUnregister; err != nil {
		r.failUnregister = nil
		r.mu.Unlock()
		return err
	}
	node, ok := r.names[string(kind)+name]
	lost := r.lost[node]
	r.mu.Unlock()
	switch {
	case !ok:
		return ipc.ENOENT
	case node != f.self && !local && !lost:
		k := r.kernels[node]
		switch kind {
		case NameFIFO:
			return k.RemoveFIFO(ctx, name)
		case NameSHM:
			return k.ShmUnlink(ctx, name)
		}
		return k.MqUnlink(ctx, name)
	}
	r.mu.Lock()
	delete(r.names, string(kind)+name)
	r.mu.Unlock()
	return nil
}

func (f fakeNames) Lookup(kind NameKind, name string) (string, error) {
	r := f.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	node, ok := r.names[string(kind)+name]
	switch {
	case !ok:
		return "", ipc.ENOENT
	case r.lost[node]:
		return "", ipc.ENOLINK
	case node == f.self:
		return "", nil
	}
	return node, nil
}

func (f fakeNames) OpenQueue(node, name string, flags ipc.OpenFlag, owner string) (RemoteQueue, error) {
	d, err := f.reg.kernels[node].LocalQueue(name, flags, owner)
	if err != nil {
		return nil, err
	}
	return fakeRemoteQueue{d}, nil
}

func (f fakeNames) OpenFIFO(w ipc.Waiter, node, path string, write, nonblock bool, _ string) (RemotePipe, error) {
	fifo, err := f.reg.kernels[node].LocalFIFO(path)
	if err != nil {
		return nil, err
	}
	if write {
		pw, err := fifo.OpenWrite(w, nonblock)
		if err != nil {
			return nil, err
		}
		return fakeRemotePipe{w: pw}, nil
	}
	pr, err := fifo.OpenRead(w, nonblock)
	if err != nil {
		return nil, err
	}
	return fakeRemotePipe{r: pr}, nil
}

type fakeRemoteQueue struct{ d *ipc.MQDesc }

func (q fakeRemoteQueue) Send(w ipc.Waiter, msg []byte, prio uint, nb bool, dl time.Time) error {
	q.d.SetAttr(map[bool]ipc.OpenFlag{true: ipc.O_NONBLOCK}[nb])
	return q.d.Send(w, msg, prio, dl)
}
func (q fakeRemoteQueue) Receive(w ipc.Waiter, b []byte, nb bool, dl time.Time) (int, uint, error) {
	q.d.SetAttr(map[bool]ipc.OpenFlag{true: ipc.O_NONBLOCK}[nb])
	return q.d.Receive(w, b, dl)
}
func (q fakeRemoteQueue) Attr() (ipc.MQAttr, error) { return q.d.GetAttr(), nil }
func (q fakeRemoteQueue) Limits() (int64, int64)    { return q.d.MaxMsg(), q.d.MsgSize() }
func (q fakeRemoteQueue) ID() uint64                { return q.d.ID() }
func (q fakeRemoteQueue) Close() error              { return q.d.Close() }
func (p fakeRemotePipe) ID() uint64                 { return 0 }
func (p fakeRemotePipe) Read(w ipc.Waiter, b []byte, nb bool) (int, error) {
	if p.r == nil {
		return 0, ipc.EBADF
	}
	return p.r.Read(w, b, nb)
}
func (p fakeRemotePipe) Write(w ipc.Waiter, b []byte, nb bool) (int, error) {
	if p.w == nil {
		return 0, ipc.EBADF
	}
	return p.w.Write(w, b, nb)
}
func (p fakeRemotePipe) Close() error {
	if p.r != nil {
		return p.r.Close()
	}
	return p.w.Close()
}

type fakeRemotePipe struct {
	r *ipc.PipeReader
	w *ipc.PipeWriter
}

// twoNodes returns kernels "a" and "b" sharing a fake registry.
// ctxTag is the key of a test's value in the context of a kernel call.
type ctxTag struct{}

// saw records the tag of the context a Names change was made for.
func (r *fakeRegistry) saw(ctx context.Context) {
	tag, _ := ctx.Value(ctxTag{}).(string)
	r.mu.Lock()
	r.tags = append(r.tags, tag)
	r.mu.Unlock()
}

// takeTags returns the tags seen since the last call.
func (r *fakeRegistry) takeTags() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.tags
	r.tags = nil
	return out
}

// TestNamesCarryTheCallersContext: the context of a create or unlink made
// for a client reaches every Names change that call makes, a process's
// own calls carry none, and the undo of a failed create is not the
// client's: a client request's change must be only its own (the cluster
// answers a retry of the request from it).
func TestNamesCarryTheCallersContext(t *testing.T) {
	a, b, reg := twoNodes(t)
	ctx := func(tag string) context.Context { return context.WithValue(context.Background(), ctxTag{}, tag) }
	wantTags := func(what string, want ...string) {
		t.Helper()
		if got := reg.takeTags(); !slices.Equal(got, want) {
			t.Fatalf("%s: Names changes for %q, want %q", what, got, want)
		}
	}
	wantErr(t, "create", a.MqCreate(ctx("c1"), "/q", 0o600, "root", nil), nil)
	wantTags("queue create", "c1")
	wantErr(t, "unlink through b", b.MqUnlink(ctx("c2"), "/q"), nil)
	wantTags("unlink of a's queue through b", "c2", "c2") // b's, then a's for it
	wantErr(t, "mkfifo", b.Mkfifo(ctx("c3"), "/f", 0o600, "root"), nil)
	wantErr(t, "remove", b.RemoveFIFO(ctx("c4"), "/f"), nil)
	wantTags("fifo", "c3", "c4")
	runSys(t, a, Spec{}, func(s *Sys) error {
		wantErr(t, "process mkfifo", s.Mkfifo("/p", 0o600), nil)
		wantErr(t, "process remove", s.Remove("/p"), nil)
		return nil
	})
	wantTags("a process's calls", "", "")

	// A create whose object cannot be made after its name was registered
	// (no such directory) undoes the registration, in no client's
	// request.
	if err := b.Mkfifo(ctx("c5"), "/nodir/f", 0o600, "root"); err == nil {
		t.Fatal("mkfifo in a missing directory: no error")
	}
	wantTags("failed mkfifo", "c5", "")
}

// TestNameLockFreedByAKilledWaiter: a process killed while it waits for
// a name's lock lets the lock go as it dies; the name is not locked for
// ever.
func TestNameLockFreedByAKilledWaiter(t *testing.T) {
	a, _, _ := twoNodes(t)
	unlock := a.nameLocks.lock(direct, NameMQ, "/x")
	programTable(t, a).Register("opener", func(s *Sys) int {
		s.MqOpen("/x", O_RDWR|O_CREAT, 0o600, nil)
		return 0
	})
	pid := mustSpawn(t, a, Spec{Command: "opener"})
	refs := func() int {
		a.nameLocks.mu.Lock()
		defer a.nameLocks.mu.Unlock()
		if nl := a.nameLocks.m[string(NameMQ)+":/x"]; nl != nil {
			return nl.refs
		}
		return 0
	}
	testwait.For(t, "the process waiting for the lock", 20*time.Second, func() bool { return refs() == 2 })
	if err := a.Kill(pid, ipc.SIGKILL); err != nil {
		t.Fatal(err)
	}
	unlock()
	if p := mustWait(t, a, pid); p.Status.ExitStatus() == 0 {
		t.Fatalf("the killed process exited %v", p.Status)
	}
	if n := refs(); n != 0 {
		t.Fatalf("the lock of /x has %d holders after its waiter died, want 0", n)
	}
}

func twoNodes(t *testing.T) (a, b *ProcessManager, reg *fakeRegistry) {
	reg = &fakeRegistry{names: map[string]string{}, lost: map[string]bool{}, kernels: map[string]*ProcessManager{}}
	a = newKernel(t, func(c *Config) { c.Names = fakeNames{self: "a", reg: reg} })
	b = newKernel(t, func(c *Config) { c.Names = fakeNames{self: "b", reg: reg} })
	reg.kernels["a"], reg.kernels["b"] = a, b
	return a, b, reg
}

func TestNamesQueueAcrossKernels(t *testing.T) {
	a, b, reg := twoNodes(t)
	if err := a.MqCreate(context.Background(), "/q", 0o600, "root", &ipc.MQAttr{MaxMsg: 2, MsgSize: 32}); err != nil {
		t.Fatal(err)
	}
	runSys(t, b, Spec{}, func(s *Sys) error {
		_, err := s.MqOpen("/q", O_RDWR|O_CREAT|O_EXCL, 0o600, nil)
		wantErr(t, "O_EXCL create of a name node a holds", err, ipc.EEXIST)
		fd, err := s.MqOpen("/q", O_WRONLY|O_CREAT, 0o600, nil)
		wantErr(t, "open of a's queue from b", err, nil)
		for _, m := range []struct {
			msg  string
			prio uint
		}{{"low", 1}, {"high", 7}} {
			wantErr(t, "send "+m.msg, s.MqSend(fd, []byte(m.msg), m.prio), nil)
		}
		a, err := s.MqGetattr(fd)
		if err != nil || a.CurMsgs != 2 || a.MaxMsg != 2 {
			t.Fatalf("MqGetattr = %+v, %v; want 2 of 2 queued", a, err)
		}
		s.MqSetattr(fd, O_NONBLOCK)
		wantErr(t, "non-blocking send to the full remote queue", s.MqSend(fd, []byte("x"), 0), ipc.EAGAIN)
		wantErr(t, "mq_notify on a remote queue", s.MqNotify(fd, ipc.SIGUSR1), ipc.ENOTSUP)
		return nil
	})
	runSys(t, a, Spec{}, func(s *Sys) error {
		fd, err := s.MqOpen("/q", O_RDONLY, 0, nil)
		wantErr(t, "local open", err, nil)
		buf := make([]byte, 32)
		for _, want := range []string{"high", "low"} {
			n, _, err := s.MqReceive(fd, buf)
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("receive = %q, %v; want %q", buf[:n], err, want)
			}
		}
		return nil
	})
	// Unlink from b removes a's name.
	wantErr(t, "unlink from b", b.MqUnlink(context.Background(), "/q"), nil)
	if _, ok := a.mqs.Lookup("/q"); ok {
		t.Fatal("a still names /q after b unlinked it")
	}
	wantErr(t, "second unlink", b.MqUnlink(context.Background(), "/q"), ipc.ENOENT)

	// A lost holder: its names give ENOLINK, never an empty queue.
	wantErr(t, "create on a", a.MqCreate(context.Background(), "/gone", 0o600, "root", nil), nil)
	reg.mu.Lock()
	reg.lost["a"] = true
	reg.mu.Unlock()
	_, err := b.OpenQueue("/gone", O_RDONLY|O_CREAT, 0o600, "root", nil)
	wantErr(t, "open of a lost node's queue", err, ipc.ENOLINK)
	wantErr(t, "unlink of a lost node's queue", b.MqUnlink(context.Background(), "/gone"), nil)
	wantErr(t, "create after the lost name is unlinked", b.MqCreate(context.Background(), "/gone", 0o600, "root", nil), nil)
}

func TestNamesSegmentsStayHome(t *testing.T) {
	a, b, _ := twoNodes(t)
	runSys(t, a, Spec{}, func(s *Sys) error {
		_, err := s.ShmOpen("/seg", O_RDWR|O_CREAT, 0o600)
		return err
	})
	runSys(t, b, Spec{}, func(s *Sys) error {
		_, err := s.ShmOpen("/seg", O_RDWR|O_CREAT|O_EXCL, 0o600)
		wantErr(t, "exclusive create of a's segment on b", err, ipc.EEXIST)
		_, err = s.ShmOpen("/seg", O_RDWR, 0)
		wantErr(t, "open of a's segment on b", err, ipc.EXDEV)
		wantErr(t, "unlink of a's segment from b", s.ShmUnlink("/seg"), nil)
		return nil
	})
	if _, ok := a.shms.Lookup("/seg"); ok {
		t.Fatal("a still names /seg")
	}
}

func TestNamesFIFOAcrossKernels(t *testing.T) {
	a, b, _ := twoNodes(t)
	if err := a.Mkfifo(context.Background(), "/f", 0o600, "root"); err != nil {
		t.Fatal(err)
	}
	err := b.Mkfifo(context.Background(), "/f", 0o600, "root")
	if !errors.Is(err, ipc.EEXIST) {
		t.Fatalf("mkfifo on b of a's FIFO: got %v, want EEXIST", err)
	}
	var out syncBuffer
	reader := mustSpawn(t, a, Spec{Command: "read-from", Args: []string{"/f"}, Stdout: &out})
	writer := mustSpawn(t, b, Spec{Command: "write-to", Args: []string{"/f", "across", "nodes"}})
	if p := mustWait(t, b, writer); p.Status.ExitStatus() != 0 {
		t.Fatalf("writer: %v", p.Status)
	}
	if p := mustWait(t, a, reader); p.Status.ExitStatus() != 0 || out.String() != "across nodes\n" {
		t.Fatalf("reader: %v, read %q; want exit 0 after EOF and %q", p.Status, out.String(), "across nodes\n")
	}
	// A writer on b after the reader on a closed: EPIPE and SIGPIPE.
	runSys(t, b, Spec{}, func(s *Sys) error {
		_, err := s.Open("/f", O_WRONLY|O_NONBLOCK, 0)
		wantErr(t, "non-blocking write open without a reader", err, ipc.ENXIO)
		_, err = s.Open("/f", O_RDWR, 0)
		wantErr(t, "O_RDWR open of a remote FIFO", err, ipc.EINVAL)
		return nil
	})
	wantErr(t, "rename of a registered FIFO", runSys(t, a, Spec{}, func(s *Sys) error { return s.Rename("/f", "/g") }), ipc.EXDEV)
	wantErr(t, "remove from b", b.RemoveFIFO(context.Background(), "/f"), nil)
	if _, err := a.FS().Stat("/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a still has /f after b removed it: %v", err)
	}
}

// TestNamesUnlinkWaitsForACreateInFlight: a create registers the name and
// then makes the object here; an unlink that comes in between must neither
// answer ENOENT for a name that exists nor free the name of an object
// still being made. The fault suite found the ENOENT.
func TestNamesUnlinkWaitsForACreateInFlight(t *testing.T) {
	for _, kind := range []NameKind{NameFIFO, NameMQ} {
		t.Run(string(kind), func(t *testing.T) {
			a, _, reg := twoNodes(t)
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			reg.afterRegister = func() { once.Do(func() { close(entered); <-release }) }
			create := func() error {
				if kind == NameFIFO {
					return a.Mkfifo(context.Background(), "/x", 0o600, "root")
				}
				return a.MqCreate(context.Background(), "/x", 0o600, "root", nil)
			}
			unlink := func() error {
				if kind == NameFIFO {
					return a.RemoveFIFO(context.Background(), "/x")
				}
				return a.MqUnlink(context.Background(), "/x")
			}
			created, unlinked := make(chan error, 1), make(chan error, 1)
			go func() { created <- create() }()
			<-entered
			go func() { unlinked <- unlink() }()
			waitFor(t, "the unlink to wait for the create", 10*time.Second, func() bool {
				select {
				case err := <-unlinked:
					close(release)
					<-created
					t.Fatalf("the unlink answered %v while the create was half done", err)
				default:
				}
				a.nameLocks.mu.Lock()
				defer a.nameLocks.mu.Unlock()
				l := a.nameLocks.m[string(kind)+":/x"]
				return l != nil && l.refs == 2
			})
			close(release)
			if err := <-created; err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := <-unlinked; err != nil {
				t.Fatalf("unlink after the create: %v", err)
			}
			if _, err := a.cfg.Names.Lookup(kind, "/x"); !errors.Is(err, ipc.ENOENT) {
				t.Fatalf("the name is still registered: %v", err)
			}
			if err := create(); err != nil {
				t.Fatalf("create again: %v", err)
			}
		})
	}
}

// TestNamesFailedUnlinkChangesNothing: when the registry cannot remove a
// name, the unlink fails and the object stays, still named; a name left
// without its object would be taken for ever.
func TestNamesFailedUnlinkChangesNothing(t *testing.T) {
	for _, kind := range []NameKind{NameFIFO, NameMQ, NameSHM} {
		t.Run(string(kind), func(t *testing.T) {
			a, b, reg := twoNodes(t)
			var create, unlink func() error
			switch kind {
			case NameFIFO:
				create = func() error { return a.Mkfifo(context.Background(), "/x", 0o600, "root") }
				unlink = func() error { return a.RemoveFIFO(context.Background(), "/x") }
			case NameMQ:
				create = func() error { return a.MqCreate(context.Background(), "/x", 0o600, "root", nil) }
				unlink = func() error { return a.MqUnlink(context.Background(), "/x") }
			case NameSHM:
				create = func() error {
					_, _, err := a.openSegment(direct, "/x", ipc.O_CREAT|ipc.O_EXCL|ipc.O_RDWR, 0o600, "root")
					return err
				}
				unlink = func() error { return a.ShmUnlink(context.Background(), "/x") }
			}
			if err := create(); err != nil {
				t.Fatal(err)
			}
			reg.mu.Lock()
			reg.failUnregister = ipc.EAGAIN
			reg.mu.Unlock()
			if err := unlink(); !errors.Is(err, ipc.EAGAIN) {
				t.Fatalf("unlink with the registry failing: got %v, want EAGAIN", err)
			}
			if !a.HoldsName(kind, "/x") {
				t.Fatal("the object is gone although its name stays")
			}
			if node, err := b.cfg.Names.Lookup(kind, "/x"); err != nil || node != "a" {
				t.Fatalf("the name: %q %v, want held by a", node, err)
			}
			if err := unlink(); err != nil {
				t.Fatalf("unlink again: %v", err)
			}
			if a.HoldsName(kind, "/x") {
				t.Fatal("the object is still here after the unlink")
			}
		})
	}
}

// TestNamesOrphanObjects: an object whose name the registry no longer
// gives this kernel (unlinked elsewhere while the node was cut off, or an
// unlink whose registry outcome was unknown) is an orphan. It must not
// make an unlink succeed or a create fail.
func TestNamesOrphanObjects(t *testing.T) {
	for _, kind := range []NameKind{NameFIFO, NameMQ} {
		t.Run(string(kind), func(t *testing.T) {
			a, _, reg := twoNodes(t)
			create := func() error { return a.MqCreate(context.Background(), "/x", 0o600, "root", nil) }
			unlink := func() error { return a.MqUnlink(context.Background(), "/x") }
			if kind == NameFIFO {
				create = func() error { return a.Mkfifo(context.Background(), "/x", 0o600, "root") }
				unlink = func() error { return a.RemoveFIFO(context.Background(), "/x") }
			}
			forget := func() {
				reg.mu.Lock()
				delete(reg.names, string(kind)+"/x")
				reg.mu.Unlock()
			}
			if err := create(); err != nil {
				t.Fatal(err)
			}
			forget()
			if err := unlink(); !errors.Is(err, ipc.ENOENT) {
				t.Fatalf("unlink of an orphan: got %v, want ENOENT", err)
			}
			if a.HoldsName(kind, "/x") {
				t.Fatal("the orphan is still here")
			}
			if err := create(); err != nil {
				t.Fatal(err)
			}
			forget()
			if err := create(); err != nil {
				t.Fatalf("create over an orphan: %v", err)
			}
			if node, err := a.cfg.Names.Lookup(kind, "/x"); err != nil || node != "" {
				t.Fatalf("after the create: %q %v, want held here", node, err)
			}
		})
	}
}

// TestNamesCreateRetriedAfterLostAnswer: a create whose registration
// committed but whose answer was lost (the leader changed) left the name
// registered to this node with no object here. Its retry in the same
// client request, which Register answers with the first attempt's success,
// makes the object; any other create or open still meets ENOLINK.
func TestNamesCreateRetriedAfterLostAnswer(t *testing.T) {
	for _, kind := range []NameKind{NameFIFO, NameMQ} {
		t.Run(string(kind), func(t *testing.T) {
			a, _, reg := twoNodes(t)
			create := func() error { return a.MqCreate(context.Background(), "/x", 0o600, "root", nil) }
			if kind == NameFIFO {
				create = func() error { return a.Mkfifo(context.Background(), "/x", 0o600, "root") }
			}
			reg.mu.Lock()
			reg.names[string(kind)+"/x"] = "a" // the first attempt's registration
			reg.mu.Unlock()
			if kind == NameMQ {
				wantErr(t, "a create in another request", create(), ipc.ENOLINK)
				err := runSys(t, a, Spec{}, func(s *Sys) error {
					_, err := s.MqOpen("/x", O_RDWR|O_CREAT, 0o600, nil)
					return err
				})
				wantErr(t, "a process's open with O_CREAT", err, ipc.ENOLINK)
			}
			reg.mu.Lock()
			reg.replays = map[string]bool{string(kind) + "/x": true}
			reg.mu.Unlock()
			wantErr(t, "the retry", create(), nil)
			if !a.HoldsName(kind, "/x") {
				t.Fatal("the retry made no object")
			}
			if node, err := a.cfg.Names.Lookup(kind, "/x"); err != nil || node != "" {
				t.Fatalf("after the retry: %q %v, want held here", node, err)
			}
		})
	}
}

// Names are paths: ".", ".." and repeated slashes resolve before a name is
// looked up or registered (path_resolution(7), mq_overview(7)), for FIFOs,
// queues and segments alike, and through Config.Names too.
func TestNamesNormalised(t *testing.T) {
	a, b, reg := twoNodes(t)
	wantErr(t, "mq create /x/../c", a.MqCreate(context.Background(), "/x/../c", 0o600, "root", nil), nil)
	wantErr(t, "mq create /c after /x/../c", a.MqCreate(context.Background(), "/c", 0o600, "root", nil), ipc.EEXIST)
	wantErr(t, "mq create //c from b", b.MqCreate(context.Background(), "//c", 0o600, "root", nil), ipc.EEXIST)
	wantErr(t, "fifo create /x/../f", a.Mkfifo(context.Background(), "/x/../f", 0o600, "root"), nil)
	wantErr(t, "fifo create /f after /x/../f", a.Mkfifo(context.Background(), "/f", 0o600, "root"), ipc.EEXIST)
	wantErr(t, "fifo create /./f from b", b.Mkfifo(context.Background(), "/./f", 0o600, "root"), ipc.EEXIST)
	runSys(t, b, Spec{}, func(s *Sys) error {
		_, err := s.ShmOpen("/a/../../s", O_RDWR|O_CREAT|O_EXCL, 0o600)
		wantErr(t, "shm create /a/../../s", err, nil)
		_, err = s.ShmOpen("/s", O_RDWR|O_CREAT|O_EXCL, 0o600)
		wantErr(t, "shm create /s after /a/../../s", err, ipc.EEXIST)
		fd, err := s.MqOpen("/y/./../c", O_WRONLY, 0, nil)
		wantErr(t, "mq open /y/./../c on b reaches a's /c", err, nil)
		wantErr(t, "send", s.MqSend(fd, []byte("hi"), 0), nil)
		return nil
	})
	reg.mu.Lock()
	var got []string
	for name := range reg.names {
		got = append(got, name)
	}
	reg.mu.Unlock()
	sort.Strings(got)
	if want := []string{"fifo/f", "mq/c", "shm/s"}; !slices.Equal(got, want) {
		t.Errorf("registered names %v, want %v", got, want)
	}
	var held []string
	for _, n := range append(a.HeldNames(), b.HeldNames()...) {
		held = append(held, string(n.Kind)+n.Name)
	}
	sort.Strings(held)
	if want := []string{"fifo/f", "mq/c", "shm/s"}; !slices.Equal(held, want) {
		t.Errorf("held names %v, want %v", held, want)
	}
	wantErr(t, "unlink //c", b.MqUnlink(context.Background(), "//c"), nil)
	wantErr(t, "remove /x/../f", b.RemoveFIFO(context.Background(), "/x/../f"), nil)
	wantErr(t, "shm unlink /s/.", b.ShmUnlink(context.Background(), "/s/."), nil)
	if n := len(a.HeldNames()) + len(b.HeldNames()); n != 0 {
		t.Errorf("%d names left after the unlinks", n)
	}
}
