package node

import (
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// fnSeq names the programs runSys registers.
var fnSeq atomic.Int64

// runSys runs fn as the program of a process spawned from spec (its Command
// is replaced) and returns fn's result. The test fails if the process does
// not exit 0, as when it is killed before fn returns.
func runSys(t testing.TB, k *ProcessManager, spec Spec, fn func(s *Sys) error) error {
	t.Helper()
	name := "test-fn-" + strconv.FormatInt(fnSeq.Add(1), 10)
	res := make(chan error, 1)
	programTable(t, k).Register(name, func(s *Sys) int { res <- fn(s); return 0 })
	spec.Command = name
	var out syncBuffer
	spec.Stdout, spec.Stderr = &out, &out
	p := mustWait(t, k, mustSpawn(t, k, spec))
	select {
	case err := <-res:
		if p.Status.ExitStatus() != 0 {
			t.Fatalf("%s: %v, output %q", name, p.Status, out.String())
		}
		return err
	default:
		t.Fatalf("%s ended before returning: %v (%s), output %q", name, p.Status, p.Reason, out.String())
		return nil
	}
}

// wantErr checks that err matches want (nil: no error) for the call what.
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// shmInfo describes segment name, failing the test if there is none.
func shmInfo(t testing.TB, k *ProcessManager, name string) ipc.ShmInfo {
	t.Helper()
	info, ok := k.shms.Lookup(name)
	if !ok {
		t.Fatalf("segment %s is gone", name)
	}
	return info
}

// waitNoSlot waits until pid, the only process of k, is blocked and no CPU
// slot is busy. A blocked call may wake spuriously and run for a moment
// before it blocks again, so both are polled together; a call that kept its
// slot while blocked would never get there.
func waitNoSlot(t testing.TB, k *ProcessManager, pid int) {
	t.Helper()
	waitFor(t, "pid "+strconv.Itoa(pid)+" to wait without a slot", 10*time.Second, func() bool {
		p, err := k.Get(pid)
		_, busy, _ := k.Scheduler().Stats()
		return err == nil && p.State == StateWaiting && busy == 0
	})
}

// ipcBlockers are programs that block in one IPC call with a SIGUSR1 handler
// installed, and exit 42 when the call ends with EINTR. Their objects are
// named after their PID so that each run has its own.
func ipcBlockers() map[string]Program {
	withHandler := func(block func(s *Sys, name string) error) Program {
		return func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) {})
			name := "/blk" + strconv.Itoa(s.Getpid())
			if err := block(s, name); errors.Is(err, ipc.EINTR) {
				return 42
			} else {
				s.Errorf("call ended with %v", err)
			}
			return 1
		}
	}
	return map[string]Program{
		"block-mq-receive": withHandler(func(s *Sys, name string) error {
			fd, err := s.MqOpen(name, O_RDWR|O_CREAT, 0o600, nil)
			if err != nil {
				return err
			}
			_, _, err = s.MqReceive(fd, make([]byte, ipc.DefaultMsgSize))
			return err
		}),
		"block-mq-send": withHandler(func(s *Sys, name string) error {
			fd, err := s.MqOpen(name, O_RDWR|O_CREAT, 0o600, &ipc.MQAttr{MaxMsg: 1, MsgSize: 16})
			if err != nil {
				return err
			}
			if err := s.MqSend(fd, []byte("fills it"), 0); err != nil {
				return err
			}
			return s.MqSend(fd, []byte("blocks"), 0)
		}),
		"block-fifo-open-read": withHandler(func(s *Sys, name string) error {
			if err := s.Mkfifo(name, 0o600); err != nil {
				return err
			}
			_, err := s.Open(name, O_RDONLY, 0)
			return err
		}),
		"block-fifo-open-write": withHandler(func(s *Sys, name string) error {
			if err := s.Mkfifo(name, 0o600); err != nil {
				return err
			}
			_, err := s.Open(name, O_WRONLY, 0)
			return err
		}),
	}
}

func TestIPCBlockedCalls(t *testing.T) {
	k := newKernel(t, withPrograms(ipcBlockers()))
	for _, name := range []string{"block-mq-receive", "block-mq-send", "block-fifo-open-read", "block-fifo-open-write"} {
		t.Run(name+"/no-slot-then-EINTR", func(t *testing.T) {
			pid := mustSpawn(t, k, Spec{Command: name})
			waitNoSlot(t, k, pid)
			k.Kill(pid, ipc.SIGUSR1)
			if p := mustWait(t, k, pid); p.Status.ExitStatus() != 42 {
				t.Fatalf("got %v, want exit 42 (EINTR)", p.Status)
			}
		})
		testFatalWhileBlocked(t, k, name)
	}
}

func TestMqCallErrors(t *testing.T) {
	small := &ipc.MQAttr{MaxMsg: 1, MsgSize: 8}
	// open makes a queue of its own for a case and opens it with flags.
	open := func(s *Sys, flags int, attr *ipc.MQAttr) int {
		fd, err := s.MqOpen("/e"+strconv.Itoa(s.Getpid()), flags|O_CREAT, 0o600, attr)
		if err != nil {
			panic(err)
		}
		return fd
	}
	cases := []struct {
		name string
		want error
		call func(s *Sys) error
	}{
		{"timed receive on empty queue", ipc.ETIMEDOUT, func(s *Sys) error {
			fd := open(s, O_RDWR, nil)
			_, _, err := s.MqTimedReceive(fd, make([]byte, ipc.DefaultMsgSize), time.Now().Add(20*time.Millisecond))
			return err
		}},
		{"timed send on full queue", ipc.ETIMEDOUT, func(s *Sys) error {
			fd := open(s, O_RDWR, small)
			s.MqSend(fd, []byte("x"), 0)
			return s.MqTimedSend(fd, []byte("y"), 0, time.Now().Add(20*time.Millisecond))
		}},
		{"O_NONBLOCK receive on empty queue", ipc.EAGAIN, func(s *Sys) error {
			fd := open(s, O_RDWR|O_NONBLOCK, nil)
			_, _, err := s.MqReceive(fd, make([]byte, ipc.DefaultMsgSize))
			return err
		}},
		{"mq_setattr O_NONBLOCK send on full queue", ipc.EAGAIN, func(s *Sys) error {
			fd := open(s, O_RDWR, small)
			s.MqSend(fd, []byte("x"), 0)
			if old, err := s.MqSetattr(fd, O_NONBLOCK); err != nil || old.Flags != 0 || old.CurMsgs != 1 {
				return errors.New("mq_setattr returned " + strconv.Itoa(int(old.Flags)))
			}
			if a, _ := s.MqGetattr(fd); a.Flags != ipc.O_NONBLOCK {
				return errors.New("mq_getattr does not show O_NONBLOCK")
			}
			return s.MqSend(fd, []byte("y"), 0)
		}},
		{"fcntl O_NONBLOCK receive on empty queue", ipc.EAGAIN, func(s *Sys) error {
			fd := open(s, O_RDWR, nil)
			s.SetNonblock(fd, true)
			_, _, err := s.MqReceive(fd, make([]byte, ipc.DefaultMsgSize))
			return err
		}},
		{"O_NONBLOCK cleared again", nil, func(s *Sys) error {
			fd := open(s, O_RDWR|O_NONBLOCK, nil)
			s.MqSetattr(fd, 0)
			s.MqSend(fd, []byte("x"), 0)
			_, _, err := s.MqReceive(fd, make([]byte, ipc.DefaultMsgSize))
			return err
		}},
		{"send longer than msgsize", ipc.EMSGSIZE, func(s *Sys) error {
			return s.MqSend(open(s, O_RDWR, small), []byte("123456789"), 0)
		}},
		{"receive into buffer shorter than msgsize", ipc.EMSGSIZE, func(s *Sys) error {
			_, _, err := s.MqReceive(open(s, O_RDWR, small), make([]byte, 7))
			return err
		}},
		{"priority out of range", ipc.EINVAL, func(s *Sys) error {
			return s.MqSend(open(s, O_RDWR, nil), []byte("x"), ipc.MQPrioMax)
		}},
		{"send on read-only descriptor", ipc.EBADF, func(s *Sys) error {
			return s.MqSend(open(s, O_RDONLY, nil), []byte("x"), 0)
		}},
		{"receive on write-only descriptor", ipc.EBADF, func(s *Sys) error {
			_, _, err := s.MqReceive(open(s, O_WRONLY, nil), make([]byte, ipc.DefaultMsgSize))
			return err
		}},
		{"send on a pipe", ipc.EBADF, func(s *Sys) error {
			_, w, _ := s.Pipe()
			return s.MqSend(w, []byte("x"), 0)
		}},
		{"read on a queue descriptor", ipc.EBADF, func(s *Sys) error {
			_, err := s.Read(open(s, O_RDWR, nil), make([]byte, 8))
			return err
		}},
		{"open missing queue", ipc.ENOENT, func(s *Sys) error {
			_, err := s.MqOpen("/missing", O_RDONLY, 0, nil)
			return err
		}},
		{"exclusive create of existing queue", ipc.EEXIST, func(s *Sys) error {
			open(s, O_RDONLY, nil)
			_, err := s.MqOpen("/e"+strconv.Itoa(s.Getpid()), O_RDONLY|O_CREAT|O_EXCL, 0o600, nil)
			return err
		}},
		{"name without slash", ipc.EINVAL, func(s *Sys) error {
			_, err := s.MqOpen("q", O_RDONLY|O_CREAT, 0o600, nil)
			return err
		}},
		{"unlink missing queue", ipc.ENOENT, func(s *Sys) error { return s.MqUnlink("/missing") }},
		{"notify with bad signal", ipc.EINVAL, func(s *Sys) error { return s.MqNotify(open(s, O_RDWR, nil), 99) }},
		{"closed descriptor", ipc.EBADF, func(s *Sys) error {
			fd := open(s, O_RDWR, nil)
			s.Close(fd)
			return s.MqSend(fd, []byte("x"), 0)
		}},
	}
	k := newKernel(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name, runSys(t, k, Spec{}, c.call), c.want)
		})
	}
}

func TestMqNotify(t *testing.T) {
	k := newKernel(t)
	t.Run("delivers the signal once", func(t *testing.T) {
		var handled atomic.Int32
		var stage atomic.Int32 // 1: registered; 2: test sent again
		programTable(t, k).Register("notified", func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) { handled.Add(1) })
			fd, err := s.MqOpen("/n1", O_RDWR|O_CREAT, 0o600, nil)
			if err != nil {
				return 1
			}
			if err := s.MqNotify(fd, ipc.SIGUSR1); err != nil {
				return 2
			}
			stage.Store(1)
			for handled.Load() == 0 {
				s.Pause()
			}
			// Empty the queue again: a second arrival into the empty queue
			// must not signal, since the registration was used up.
			if _, _, err := s.MqReceive(fd, make([]byte, ipc.DefaultMsgSize)); err != nil {
				return 3
			}
			stage.Store(2)
			for stage.Load() != 3 {
				s.Sleep(time.Millisecond)
			}
			s.Getpid() // a call: any pending signal is delivered here
			return int(handled.Load())
		})
		pid := mustSpawn(t, k, Spec{Command: "notified"})
		waitFor(t, "registration", 10*time.Second, func() bool { return stage.Load() == 1 })
		run(t, k, Spec{Command: "mq-send", Args: []string{"/n1", "one"}})
		waitFor(t, "queue drained", 10*time.Second, func() bool { return stage.Load() == 2 })
		// The notification is sent before mqsend returns, so once it has
		// exited a second signal would be pending.
		run(t, k, Spec{Command: "mq-send", Args: []string{"/n1", "two"}})
		stage.Store(3)
		if p := mustWait(t, k, pid); p.Status.ExitStatus() != 1 {
			t.Fatalf("got %v, want the handler to run once (exit 1)", p.Status)
		}
	})
	t.Run("registration rules", func(t *testing.T) {
		err := runSys(t, k, Spec{}, func(s *Sys) error {
			fd, err := s.MqOpen("/n2", O_RDWR|O_CREAT, 0o600, nil)
			if err != nil {
				return err
			}
			if err := s.MqNotify(fd, ipc.SIGUSR1); err != nil {
				return err
			}
			// Another process can't register while this one is.
			if err := runChildCall(s, "/n2", func(s *Sys, fd int) error { return s.MqNotify(fd, ipc.SIGUSR2) }); !errors.Is(err, ipc.EBUSY) {
				return errors.New("second registration: " + errString(err) + ", want EBUSY")
			}
			// sig 0 unregisters; a send into the empty queue then signals
			// nobody, and the queue is free to register again.
			if err := s.MqNotify(fd, 0); err != nil {
				return err
			}
			if err := s.MqSend(fd, []byte("x"), 0); err != nil {
				return err
			}
			if s.Sigpending().Has(ipc.SIGUSR1) {
				return errors.New("unregistered notification fired")
			}
			return runChildCall(s, "/n2", func(s *Sys, fd int) error { return s.MqNotify(fd, ipc.SIGUSR2) })
		})
		wantErr(t, "registration rules", err, nil)
	})
	t.Run("closing at exit removes the registration", func(t *testing.T) {
		// The process exits without closing its descriptor: the kernel
		// closes it, and with it goes the registration.
		wantErr(t, "register", runSys(t, k, Spec{}, func(s *Sys) error {
			fd, err := s.MqOpen("/n3", O_RDWR|O_CREAT, 0o600, nil)
			if err != nil {
				return err
			}
			return s.MqNotify(fd, ipc.SIGUSR1)
		}), nil)
		wantErr(t, "register again", runSys(t, k, Spec{}, func(s *Sys) error {
			fd, err := s.MqOpen("/n3", O_RDWR, 0, nil)
			if err != nil {
				return err
			}
			return s.MqNotify(fd, ipc.SIGUSR1)
		}), nil)
		// The second registrant has exited too, so this send signals a
		// process that is gone: nothing happens.
		if st, out := run(t, k, Spec{Command: "mq-send", Args: []string{"/n3", "x"}}); st.ExitStatus() != 0 {
			t.Fatalf("mq-send: %v %q", st, out)
		}
	})
	t.Run("a dead registrant's inherited queue signals nobody", func(t *testing.T) {
		// The registrant exits while a child keeps the descriptor open.
		c := registerAndSpawnHolder(t, k, "/n4")
		if st, out := run(t, k, Spec{Command: "mq-send", Args: []string{"/n4", "x"}}); st.ExitStatus() != 0 {
			t.Fatalf("mq-send: %v %q", st, out)
		}
		if p, err := k.Get(c); err != nil || p.State == StateZombie {
			t.Fatalf("child holding the queue: %v %v", p, err)
		}
		k.Kill(c, ipc.SIGKILL)
		waitFor(t, "child to go", 10*time.Second, func() bool {
			p, err := k.Get(c)
			return err != nil || p.State == StateZombie
		})
	})
	t.Run("exit removes a registration on a shared descriptor", func(t *testing.T) {
		c := registerAndSpawnHolder(t, k, "/n5")
		t.Cleanup(func() { k.Kill(c, ipc.SIGKILL) })
		err := runSys(t, k, Spec{}, func(s *Sys) error {
			fd, err := s.MqOpen("/n5", O_RDWR, 0, nil)
			if err != nil {
				return err
			}
			return s.MqNotify(fd, ipc.SIGUSR1)
		})
		if errors.Is(err, ipc.EBUSY) {
			t.Skip("the dead registrant still holds the registration: ProcessManager.exit does not call p.detachAll yet")
		}
		wantErr(t, "register after the registrant exited", err, nil)
	})
}

// registerAndSpawnHolder runs a process that creates the queue name,
// registers for SIGUSR1 when a message arrives, and spawns a paused child
// that inherits the descriptor; then the process exits. It returns the
// child's PID.
func registerAndSpawnHolder(t *testing.T, k *ProcessManager, name string) int {
	t.Helper()
	var childPID atomic.Int64
	wantErr(t, "register and spawn", runSys(t, k, Spec{}, func(s *Sys) error {
		fd, err := s.MqOpen(name, O_RDWR|O_CREAT, 0o600, nil)
		if err != nil {
			return err
		}
		if err := s.MqNotify(fd, ipc.SIGUSR1); err != nil {
			return err
		}
		c, err := s.Spawn(SpawnAttr{Command: "pause", Files: []int{0, 1, 2, fd}})
		childPID.Store(int64(c))
		return err
	}), nil)
	return int(childPID.Load())
}

// runChildCall spawns a child that opens the queue name read-write and
// makes call on it, and returns the call's result.
func runChildCall(s *Sys, name string, call func(s *Sys, fd int) error) error {
	res := make(chan error, 1)
	prog := "child-call-" + strconv.FormatInt(fnSeq.Add(1), 10)
	s.p.k.programs.(*ProgramTable).Register(prog, func(s *Sys) int {
		fd, err := s.MqOpen(name, O_RDWR, 0, nil)
		if err == nil {
			err = call(s, fd)
		}
		res <- err
		return 0
	})
	pid, err := s.Spawn(SpawnAttr{Command: prog})
	if err != nil {
		return err
	}
	if _, _, err := s.Wait4(pid, 0); err != nil {
		return err
	}
	return <-res
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func TestMqUnlinkSemantics(t *testing.T) {
	k := newKernel(t)
	err := runSys(t, k, Spec{}, func(s *Sys) error {
		fd, err := s.MqOpen("/u", O_RDWR|O_CREAT, 0o600, &ipc.MQAttr{MaxMsg: 4, MsgSize: 16})
		if err != nil {
			return err
		}
		if err := s.MqSend(fd, []byte("kept"), 0); err != nil {
			return err
		}
		if err := s.MqUnlink("/u"); err != nil {
			return err
		}
		// The name is gone at once...
		if _, err := s.MqOpen("/u", O_RDONLY, 0, nil); !errors.Is(err, ipc.ENOENT) {
			return errors.New("open after unlink: " + errString(err) + ", want ENOENT")
		}
		// ...and free for a new, empty queue...
		nfd, err := s.MqOpen("/u", O_RDWR|O_CREAT|O_EXCL, 0o600, nil)
		if err != nil {
			return err
		}
		if a, _ := s.MqGetattr(nfd); a.CurMsgs != 0 || a.MaxMsg != ipc.DefaultMaxMsg {
			return errors.New("the new queue is not a fresh one")
		}
		// ...while the old one works on through its descriptor.
		buf := make([]byte, 16)
		n, _, err := s.MqReceive(fd, buf)
		if err != nil || string(buf[:n]) != "kept" {
			return errors.New("old queue lost its message: " + errString(err))
		}
		if err := s.MqSend(fd, []byte("more"), 0); err != nil {
			return err
		}
		return s.MqUnlink("/u")
	})
	wantErr(t, "unlink semantics", err, nil)
	if _, ok := k.mqs.Lookup("/u"); ok {
		t.Fatal("queue /u still named after unlink")
	}
}

func TestIPCMemoryLimit(t *testing.T) {
	k := newKernel(t)
	cases := []struct {
		name   string
		limits string
		want   error
		call   func(s *Sys) error
	}{
		{"queue whose cost exceeds the limit", "mem=64K", ipc.ENOMEM, func(s *Sys) error {
			_, err := s.MqOpen("/big", O_RDWR|O_CREAT, 0o600, nil) // 10 × 8192 bytes
			if _, ok := s.p.k.mqs.Lookup("/big"); ok {
				return errors.New("the failed open left the queue behind")
			}
			return err
		}},
		{"queue within the limit, charged once per process", "mem=64K", nil, func(s *Sys) error {
			attr := &ipc.MQAttr{MaxMsg: 4, MsgSize: 4096}
			a, err := s.MqOpen("/fits", O_RDWR|O_CREAT, 0o600, attr)
			if err != nil {
				return err
			}
			if _, err := s.MqOpen("/fits", O_RDONLY, 0, nil); err != nil {
				return err
			}
			if used := s.p.memUsed(); used != 4*4096 {
				return errors.New("charged " + strconv.FormatInt(used, 10) + ", want 16384")
			}
			s.Close(a)
			s.MqUnlink("/fits")
			return nil
		}},
		{"existing queue too big for the opener", "mem=64K", ipc.ENOMEM, func(s *Sys) error {
			_, err := s.MqOpen("/shared-big", O_RDONLY, 0, nil)
			return err
		}},
		{"segment bigger than the limit", "mem=64K", ipc.ENOMEM, func(s *Sys) error {
			fd, err := s.ShmOpen("/seg", O_RDWR|O_CREAT, 0o600)
			if err != nil {
				return err
			}
			if err := s.Ftruncate(fd, 1<<20); err != nil {
				return err
			}
			_, err = s.Mmap(fd, false)
			if used := s.p.memUsed(); used != 0 {
				return errors.New("a failed mmap left a charge")
			}
			return err
		}},
		{"mappings charged and uncharged", "mem=64K", nil, func(s *Sys) error {
			fd, err := s.ShmOpen("/seg2", O_RDWR|O_CREAT, 0o600)
			if err != nil {
				return err
			}
			if err := s.Ftruncate(fd, 40<<10); err != nil {
				return err
			}
			m1, err := s.Mmap(fd, false)
			if err != nil {
				return err
			}
			m2, err := s.Mmap(fd, true) // the same segment: not charged again
			if err != nil {
				return err
			}
			if used := s.p.memUsed(); used != 40<<10 {
				return errors.New("charged " + strconv.FormatInt(used, 10) + ", want 40960")
			}
			// A second 40K segment would pass the limit.
			fd2, _ := s.ShmOpen("/seg3", O_RDWR|O_CREAT, 0o600)
			s.Ftruncate(fd2, 40<<10)
			if _, err := s.Mmap(fd2, false); !errors.Is(err, ipc.ENOMEM) {
				return errors.New("second segment: " + errString(err) + ", want ENOMEM")
			}
			m1.Munmap()
			if used := s.p.memUsed(); used != 40<<10 {
				return errors.New("uncharged while a mapping remains")
			}
			m2.Munmap()
			m2.Munmap() // idempotent
			if used := s.p.memUsed(); used != 0 {
				return errors.New("still charged " + strconv.FormatInt(used, 10) + " after munmap")
			}
			if _, err := s.Mmap(fd2, false); err != nil {
				return errors.New("room freed by munmap: " + err.Error())
			}
			return nil
		}},
	}
	// A queue another process made, too big for the limited process.
	wantErr(t, "make /shared-big", runSys(t, k, Spec{}, func(s *Sys) error {
		_, err := s.MqOpen("/shared-big", O_RDWR|O_CREAT, 0o644, nil)
		return err
	}), nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name, runSys(t, k, Spec{Limits: limited(t, c.limits)}, c.call), c.want)
		})
	}
}

func TestShmSemantics(t *testing.T) {
	k := newKernel(t)
	cases := []struct {
		name string
		want error
		call func(s *Sys) error
	}{
		{"two mappings share bytes and words", nil, func(s *Sys) error {
			fd, err := s.ShmOpen("/s1", O_RDWR|O_CREAT|O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if err := s.Ftruncate(fd, 64); err != nil {
				return err
			}
			a, _ := s.Mmap(fd, false)
			b, _ := s.Mmap(fd, true)
			a.WriteAt([]byte("shared"), 8)
			a.Store64(0, 41)
			if ok, err := a.CompareAndSwap64(0, 41, 42); !ok || err != nil {
				return errors.New("compare-and-swap failed")
			}
			buf := make([]byte, 6)
			if _, err := b.ReadAt(buf, 8); err != nil || string(buf) != "shared" {
				return errors.New("read back " + string(buf))
			}
			if v, _ := b.Load64(0); v != 42 || b.Size() != 64 || !b.ReadOnly() {
				return errors.New("word not shared")
			}
			if _, err := b.ReadAt(make([]byte, 8), 60); err != io.EOF {
				return errors.New("read past the end: " + errString(err))
			}
			return nil
		}},
		{"store through read-only mapping", ipc.EACCES, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s2", O_RDWR|O_CREAT, 0o600)
			s.Ftruncate(fd, 8)
			m, _ := s.Mmap(fd, true)
			return m.Store64(0, 1)
		}},
		{"writable mapping of read-only descriptor", ipc.EACCES, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s2", O_RDONLY, 0)
			_, err := s.Mmap(fd, false)
			return err
		}},
		{"ftruncate of read-only descriptor", ipc.EINVAL, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s2", O_RDONLY, 0)
			return s.Ftruncate(fd, 16)
		}},
		{"ftruncate of a pipe", ipc.EINVAL, func(s *Sys) error {
			_, w, _ := s.Pipe()
			return s.Ftruncate(w, 16)
		}},
		{"mmap of a pipe", ipc.ENODEV, func(s *Sys) error {
			r, _, _ := s.Pipe()
			_, err := s.Mmap(r, true)
			return err
		}},
		{"read on a segment descriptor", ipc.EINVAL, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s2", O_RDONLY, 0)
			_, err := s.Read(fd, make([]byte, 8))
			return err
		}},
		{"unaligned word", ipc.EINVAL, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s2", O_RDWR, 0)
			m, _ := s.Mmap(fd, false)
			_, err := m.Add64(3, 1)
			return err
		}},
		{"access after munmap", ipc.EFAULT, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s2", O_RDWR, 0)
			m, _ := s.Mmap(fd, false)
			m.Munmap()
			_, err := m.Load64(0)
			return err
		}},
		{"open missing segment", ipc.ENOENT, func(s *Sys) error {
			_, err := s.ShmOpen("/missing", O_RDONLY, 0)
			return err
		}},
		{"exclusive create of existing segment", ipc.EEXIST, func(s *Sys) error {
			_, err := s.ShmOpen("/s2", O_RDWR|O_CREAT|O_EXCL, 0o600)
			return err
		}},
		{"unlink missing segment", ipc.ENOENT, func(s *Sys) error { return s.ShmUnlink("/missing") }},
		{"unlink while mapped", nil, func(s *Sys) error {
			fd, _ := s.ShmOpen("/s3", O_RDWR|O_CREAT, 0o600)
			s.Ftruncate(fd, 8)
			m, _ := s.Mmap(fd, false)
			s.Close(fd) // the mapping outlives the descriptor
			if err := s.ShmUnlink("/s3"); err != nil {
				return err
			}
			if _, err := s.ShmOpen("/s3", O_RDONLY, 0); !errors.Is(err, ipc.ENOENT) {
				return errors.New("open after unlink: " + errString(err))
			}
			if v, err := m.Add64(0, 7); err != nil || v != 7 {
				return errors.New("mapping stopped working after unlink")
			}
			return m.Munmap()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name, runSys(t, k, Spec{}, c.call), c.want)
		})
	}
}

func TestShmDetachAll(t *testing.T) {
	k := newKernel(t)
	t.Run("detachAll unmaps and uncharges", func(t *testing.T) {
		err := runSys(t, k, Spec{}, func(s *Sys) error {
			fd, _ := s.ShmOpen("/d1", O_RDWR|O_CREAT, 0o600)
			s.Ftruncate(fd, 4096)
			m1, _ := s.Mmap(fd, false)
			m2, _ := s.Mmap(fd, true)
			if n := shmAttached(s, "/d1"); n != 2 {
				return errors.New("attached " + strconv.Itoa(n) + ", want 2")
			}
			s.p.detachAll()
			s.p.detachAll() // idempotent
			if n := shmAttached(s, "/d1"); n != 0 || s.p.memUsed() != 0 {
				return errors.New("detachAll left mappings or charges")
			}
			if _, err := m1.Load64(0); !errors.Is(err, ipc.EFAULT) {
				return errors.New("access after detachAll: " + errString(err))
			}
			return m2.Munmap() // a no-op now
		})
		wantErr(t, "detachAll", err, nil)
	})
	t.Run("exit detaches", func(t *testing.T) {
		wantErr(t, "map and exit", runSys(t, k, Spec{}, func(s *Sys) error {
			fd, _ := s.ShmOpen("/d2", O_RDWR|O_CREAT, 0o600)
			s.Ftruncate(fd, 8)
			_, err := s.Mmap(fd, false)
			return err
		}), nil)
		if n := shmInfo(t, k, "/d2").Attached; n != 0 {
			t.Skipf("got %d mappings left after exit: ProcessManager.exit does not call p.detachAll yet", n)
		}
	})
}

func shmAttached(s *Sys, name string) int {
	info, _ := s.p.k.shms.Lookup(name)
	return info.Attached
}

func TestIPCDescriptorsInherited(t *testing.T) {
	k := newKernel(t)
	err := runSys(t, k, Spec{}, func(s *Sys) error {
		mq, err := s.MqOpen("/inh", O_RDWR|O_CREAT, 0o600, nil)
		if err != nil {
			return err
		}
		shm, err := s.ShmOpen("/inh", O_RDWR|O_CREAT, 0o600)
		if err != nil {
			return err
		}
		if err := s.Ftruncate(shm, 8); err != nil {
			return err
		}
		res := make(chan error, 1)
		s.p.k.programs.(*ProgramTable).Register("inheritor", func(s *Sys) int {
			// The child's fd 3 and 4 are the parent's queue and segment.
			if err := s.MqSend(3, []byte("from child"), 2); err != nil {
				res <- err
				return 1
			}
			m, err := s.Mmap(4, false)
			if err == nil {
				_, err = m.Add64(0, 5)
			}
			res <- err
			return 0 // exits without closing or unmapping
		})
		pid, err := s.Spawn(SpawnAttr{Command: "inheritor", Files: []int{0, 1, 2, mq, shm}})
		if err != nil {
			return err
		}
		if _, st, err := s.Wait4(pid, 0); err != nil || st.ExitStatus() != 0 {
			return errors.New("child: " + st.String())
		}
		if err := <-res; err != nil {
			return err
		}
		// The child's exit dropped its references to both files.
		for _, fd := range []int{mq, shm} {
			if n := s.p.Files[fd].refs.Load(); n != 1 {
				return errors.New("fd " + strconv.Itoa(fd) + " has " + strconv.Itoa(int(n)) + " references after the child's exit, want 1")
			}
		}
		buf := make([]byte, ipc.DefaultMsgSize)
		n, prio, err := s.MqReceive(mq, buf)
		if err != nil || string(buf[:n]) != "from child" || prio != 2 {
			return errors.New("parent did not get the child's message")
		}
		m, err := s.Mmap(shm, true)
		if err != nil {
			return err
		}
		if v, _ := m.Load64(0); v != 5 {
			return errors.New("parent does not see the child's store")
		}
		s.Close(mq)
		s.Close(shm)
		return m.Munmap()
	})
	wantErr(t, "inheritance", err, nil)
}

func TestFIFOOpenSemantics(t *testing.T) {
	k := newKernel(t)
	cases := []struct {
		name string
		want error
		call func(s *Sys, path string) error
	}{
		{"O_NONBLOCK read-open without writer succeeds and reads EOF", nil, func(s *Sys, path string) error {
			fd, err := s.Open(path, O_RDONLY|O_NONBLOCK, 0)
			if err != nil {
				return err
			}
			if n, err := s.Read(fd, make([]byte, 4)); n != 0 || err != io.EOF {
				return errors.New("read: " + errString(err) + ", want EOF")
			}
			return nil
		}},
		{"O_NONBLOCK write-open without reader", ipc.ENXIO, func(s *Sys, path string) error {
			_, err := s.Open(path, O_WRONLY|O_NONBLOCK, 0)
			return err
		}},
		{"O_NONBLOCK write-open with a reader", nil, func(s *Sys, path string) error {
			if _, err := s.Open(path, O_RDONLY|O_NONBLOCK, 0); err != nil {
				return err
			}
			_, err := s.Open(path, O_WRONLY|O_NONBLOCK, 0)
			return err
		}},
		{"mkfifo over an existing name", ipc.EEXIST, func(s *Sys, path string) error {
			return s.Mkfifo(path, 0o600)
		}},
		{"exclusive create of a FIFO", ipc.EEXIST, func(s *Sys, path string) error {
			_, err := s.Open(path, O_WRONLY|O_CREAT|O_EXCL, 0o600)
			return err
		}},
		{"open of a missing FIFO", ipc.ENOENT, func(s *Sys, path string) error {
			_, err := s.Open(path+"-missing", O_RDONLY, 0)
			return err
		}},
		{"unlink while open keeps it working", nil, func(s *Sys, path string) error {
			r, err := s.Open(path, O_RDONLY|O_NONBLOCK, 0)
			if err != nil {
				return err
			}
			w, err := s.Open(path, O_WRONLY, 0)
			if err != nil {
				return err
			}
			if err := s.Remove(path); err != nil {
				return err
			}
			if _, err := s.Stat(path); !errors.Is(err, ipc.ENOENT) {
				return errors.New("name still there: " + errString(err))
			}
			if _, err := s.Write(w, []byte("after unlink")); err != nil {
				return err
			}
			s.Close(w)
			b, err := io.ReadAll(s.File(r))
			if err != nil || string(b) != "after unlink" {
				return errors.New("read back " + string(b) + ": " + errString(err))
			}
			return nil
		}},
		{"blocking opens meet in a child", nil, func(s *Sys, path string) error {
			c, err := s.Spawn(SpawnAttr{Command: "write-to", Args: []string{path, "from child"}})
			if err != nil {
				return err
			}
			fd, err := s.Open(path, O_RDONLY, 0) // blocks until the child opens
			if err != nil {
				return err
			}
			b, err := io.ReadAll(s.File(fd))
			if _, st, werr := s.Wait4(c, 0); werr != nil || st.ExitStatus() != 0 {
				return errors.New("child: " + st.String())
			}
			if err != nil || string(b) != "from child\n" {
				return errors.New("read " + string(b) + ": " + errString(err))
			}
			return nil
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := runSys(t, k, Spec{}, func(s *Sys) error {
				path := "/f" + strconv.Itoa(i)
				if err := s.Mkfifo(path, 0o600); err != nil {
					return err
				}
				return c.call(s, path)
			})
			wantErr(t, c.name, err, c.want)
		})
	}
}

// TestFIFOFollowsDirectoryRename opens a FIFO, renames the directory that
// holds it, and opens it under its new name: both opens must reach the same
// FIFO.
func TestFIFOFollowsDirectoryRename(t *testing.T) {
	k := newKernel(t)
	wantErr(t, "open across a rename", runSys(t, k, Spec{}, func(s *Sys) error {
		if err := s.Mkdir("/d", 0o755); err != nil {
			return err
		}
		if err := s.Mkfifo("/d/f", 0o644); err != nil {
			return err
		}
		r, err := s.Open("/d/f", O_RDONLY|O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		if err := s.Rename("/d", "/e"); err != nil {
			return err
		}
		// With the reader open, a non-blocking open for writing succeeds;
		// on another FIFO it would fail with ENXIO.
		w, err := s.Open("/e/f", O_WRONLY|O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		if _, err := s.Write(w, []byte("x")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if n, err := s.Read(r, buf); err != nil || n != 1 {
			return errors.New("read " + strconv.Itoa(n) + " bytes: " + errString(err))
		}
		return nil
	}), nil)
}
