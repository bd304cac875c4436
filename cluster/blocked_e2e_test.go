package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Blocked receivers across nodes: a receive, a FIFO read or a pipe read
// blocked on another node's object takes nothing while its process is
// stopped or dead, and returns EINTR for a handled signal without losing
// what was sent.

// pipelinePrograms are unixPrograms and the programs below.
func pipelinePrograms() *node.ProgramTable {
	r := unixPrograms()
	r.Register("stoprecv", progStopRecv)
	r.Register("recvloop", progRecvLoop)
	r.Register("stopsend", progStopSend)
	r.Register("qparent", progQParent)
	r.Register("qchild", progQChild)
	return r
}

// progQParent is "qparent NODE": it creates the queue /iq here, sends
// "via-fd", spawns qchild on NODE with the queue descriptor as its
// descriptor 3, waits for it and prints "done CODE", then what is left in
// the queue ("left N").
func progQParent(s *Sys) int {
	q, err := s.MqOpen("/iq", node.O_RDWR|node.O_CREAT, 0o666, &ipc.MQAttr{MaxMsg: 4, MsgSize: 64})
	if err != nil {
		s.Errorf("qparent: %v", err)
		return 1
	}
	if err := s.MqSend(q, []byte("via-fd"), 3); err != nil {
		s.Errorf("qparent: %v", err)
		return 1
	}
	child, err := s.Spawn(node.SpawnAttr{Command: "qchild", Node: s.Args()[0], Files: []int{0, 1, 2, q}})
	if err != nil {
		s.Errorf("qparent: %v", err)
		return 1
	}
	for {
		_, ws, err := s.Wait4(child, 0)
		if errors.Is(err, ipc.EINTR) {
			continue
		}
		s.Printf("done %d\n", ws.Code())
		break
	}
	buf := make([]byte, 64)
	n, _, err := s.MqReceive(q, buf)
	s.Printf("left %q %v\n", buf[:max(n, 0)], err)
	return 0
}

// progQChild receives one message from its descriptor 3, a queue, prints
// it, and sends "reply" back on it.
func progQChild(s *Sys) int {
	buf := make([]byte, 64)
	n, prio, err := s.MqReceive(3, buf)
	if err != nil {
		s.Errorf("qchild: %v", err)
		return 1
	}
	s.Printf("got %s prio %d\n", buf[:n], prio)
	if err := s.MqSend(3, []byte("reply"), 1); err != nil {
		s.Errorf("qchild: %v", err)
		return 1
	}
	return 0
}

// A queue descriptor inherited by a child on another node: the child
// receives and sends on its parent's open queue.
func TestQueueDescriptorAcrossNodes(t *testing.T) {
	clients, names := pipelineCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runOn(t, ctx, clients[0], names[0], "qparent", names[2])
	if want := "got via-fd prio 3\ndone 0\nleft \"reply\" <nil>\n"; out != want || code != 0 {
		t.Fatalf("got %q, exit %d, want %q, exit 0", out, code, want)
	}
}

func pipelineCluster(t *testing.T) ([]*client.Client, []string) {
	c := MakeCluster(t, 3, func(i int, cfg *Config) {
		cfg.Programs = pipelinePrograms()
		cfg.Retention = 5 * time.Second
	})
	return ipcClients(t, c), []string{c.agents[0].Name(), c.agents[1].Name(), c.agents[2].Name()}
}

// progStopRecv is "stoprecv KIND NODE NAME", KIND pipe, fifo or mq. It
// holds the object here and spawns a receiver on NODE: cat reading a pipe
// it inherits, fifo-read of the FIFO NAME, or "mqrecv -n 2" of the queue
// NAME; the receiver prints what it gets to the output it inherits. It
// prints "child PID", sends "warm", and at SIGUSR1 sends "m1" and prints
// what a second, non-blocking receiver here gets a moment later: "local
// got DATA ERR".
// At SIGUSR2 it sends "m2", closes its sending end, waits for the child
// and prints "done CODE".
func progStopRecv(s *Sys) int {
	a := s.Args()
	if len(a) != 3 {
		s.Errorf("usage: stoprecv pipe|fifo|mq NODE NAME")
		return 2
	}
	kind, where, name := a[0], a[1], a[2]
	var usr1, usr2 bool
	s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) { usr1 = true })
	s.Signal(ipc.SIGUSR2, func(*Sys, ipc.Signal) { usr2 = true })
	var (
		child      int
		send       func(string) error
		second     func() (string, error)
		closeWrite func()
		err        error
	)
	buf := make([]byte, 64)
	switch kind {
	case "pipe":
		var r, w int
		if r, w, err = s.Pipe(); err != nil {
			break
		}
		if child, err = s.Spawn(node.SpawnAttr{Command: "cat", Node: where, Files: []int{r, 1, 2}}); err != nil {
			break
		}
		_, err = s.Fcntl(r, node.F_SETFL, node.O_NONBLOCK)
		send = func(m string) error { _, err := s.Write(w, []byte(m+"\n")); return err }
		second = func() (string, error) { n, err := s.Read(r, buf); return string(buf[:max(n, 0)]), err }
		closeWrite = func() { s.Close(w) }
	case "fifo":
		if err = s.Mkfifo(name, 0o666); err != nil {
			break
		}
		if child, err = s.Spawn(node.SpawnAttr{Command: "fifo-read", Args: []string{name}, Node: where}); err != nil {
			break
		}
		var r, w int
		if w, err = s.Open(name, node.O_WRONLY, 0); err != nil {
			break
		}
		if r, err = s.Open(name, node.O_RDONLY|node.O_NONBLOCK, 0); err != nil {
			break
		}
		send = func(m string) error { _, err := s.Write(w, []byte(m+"\n")); return err }
		second = func() (string, error) { n, err := s.Read(r, buf); return string(buf[:max(n, 0)]), err }
		closeWrite = func() { s.Close(w) }
	case "mq":
		var q, r int
		if q, err = s.MqOpen(name, node.O_WRONLY|node.O_CREAT, 0o666, &ipc.MQAttr{MaxMsg: 4, MsgSize: 64}); err != nil {
			break
		}
		if r, err = s.MqOpen(name, node.O_RDONLY|node.O_NONBLOCK, 0, nil); err != nil {
			break
		}
		if child, err = s.Spawn(node.SpawnAttr{Command: "mqrecv", Args: []string{"-n", "2", name}, Node: where}); err != nil {
			break
		}
		send = func(m string) error { return s.MqSend(q, []byte(m), 0) }
		second = func() (string, error) { n, _, err := s.MqReceive(r, buf); return string(buf[:max(n, 0)]), err }
		closeWrite = func() {}
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		s.Errorf("stoprecv: %v", err)
		return 1
	}
	s.Printf("child %d\n", child)
	if err := send("warm"); err != nil {
		s.Errorf("send: %v", err)
		return 1
	}
	for !usr1 {
		s.Pause()
	}
	if err := send("m1"); err != nil {
		s.Errorf("send: %v", err)
		return 1
	}
	// Give a receiver that wrongly kept its request open on the holder
	// time to take m1: with the holder handing data only to ready
	// receivers, m1 stays for the receiver here however long it waits.
	s.Sleep(300 * time.Millisecond)
	got, err := second()
	s.Printf("local got %q %v\n", got, err)
	for !usr2 {
		s.Pause()
	}
	if err := send("m2"); err != nil {
		s.Errorf("send: %v", err)
		return 1
	}
	closeWrite()
	for {
		_, ws, err := s.Wait4(child, 0)
		if errors.Is(err, ipc.EINTR) {
			continue
		}
		if err != nil {
			s.Errorf("wait4: %v", err)
			return 1
		}
		s.Printf("done %d\n", ws.Code())
		return 0
	}
}

// progRecvLoop is "recvloop NAME": it receives two messages from the queue
// NAME and prints each; a SIGUSR1 handler prints "handled", and a receive
// that it interrupts prints "eintr".
func progRecvLoop(s *Sys) int {
	s.Signal(ipc.SIGUSR1, func(s *Sys, _ ipc.Signal) { s.Printf("handled\n") })
	q, err := s.MqOpen(s.Args()[0], node.O_RDONLY, 0, nil)
	if err != nil {
		s.Errorf("recvloop: %v", err)
		return 1
	}
	buf := make([]byte, 1024)
	for got := 0; got < 2; {
		n, _, err := s.MqReceive(q, buf)
		switch {
		case errors.Is(err, ipc.EINTR):
			s.Printf("eintr\n")
			continue
		case err != nil:
			s.Errorf("recvloop: %v", err)
			return 1
		}
		s.Printf("%s\n", buf[:n])
		got++
	}
	return 0
}

// blockedIn polls until pid is running and waiting in a system call, as
// the node that runs it reports.
func blockedIn(t *testing.T, ctx context.Context, cl *client.Client, pid uint64) {
	t.Helper()
	poll(t, 30*time.Second, func() error {
		p, err := cl.Get(ctx, pid, client.ReadOpts{})
		if err != nil {
			return err
		}
		if p.State != "running" || p.MicroState != "waiting" {
			return fmt.Errorf("process %d is %s/%s, want running/waiting", pid, p.State, p.MicroState)
		}
		return nil
	})
}

// inState polls until pid's state in the table is want.
func inState(t *testing.T, ctx context.Context, cl *client.Client, pid uint64, want string) {
	t.Helper()
	poll(t, 30*time.Second, func() error {
		p, err := cl.Get(ctx, pid, client.ReadOpts{})
		if err != nil {
			return err
		}
		if p.State != want {
			return fmt.Errorf("process %d is %s, want %s", pid, p.State, want)
		}
		return nil
	})
}

func TestBlockedReceiversAcrossNodes(t *testing.T) {
	clients, names := pipelineCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	kill := func(target uint64, sig ipc.Signal) {
		t.Helper()
		if _, err := clients[1].Kill(ctx, api.KillRequest{Targets: []int64{int64(target)}, Signal: int(sig)}); err != nil {
			t.Fatalf("kill -%d %d: %v", sig, target, err)
		}
	}
	for _, kind := range []string{"pipe", "fifo", "mq"} {
		for _, action := range []string{"stop", "kill"} {
			t.Run(kind+"/"+action, func(t *testing.T) {
				name := "/" + kind + action
				res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "stoprecv", Args: []string{kind, names[2], name}, Node: names[0]})
				if err != nil {
					t.Fatal(err)
				}
				out := waitLog(t, ctx, clients[0], res.PID, "warm\n")
				var child uint64
				if _, err := fmt.Sscanf(out, "child %d\n", &child); err != nil {
					t.Fatalf("output %q: %v", out, err)
				}
				// The receiver on node 2 is blocked on node 0's object.
				blockedIn(t, ctx, clients[2], child)
				m1 := "m1\n"
				if kind == "mq" {
					m1 = "m1"
				}
				want := fmt.Sprintf("child %d\nwarm\nlocal got %q <nil>\n", child, m1)
				if action == "stop" {
					kill(child, ipc.SIGSTOP)
					inState(t, ctx, clients[1], child, "stopped")
				} else {
					kill(child, ipc.SIGKILL)
					inState(t, ctx, clients[1], child, "exited")
				}
				kill(res.PID, ipc.SIGUSR1)
				waitLog(t, ctx, clients[0], res.PID, "local got")
				if action == "stop" {
					kill(child, ipc.SIGCONT)
					inState(t, ctx, clients[1], child, "running")
					want += "m2\ndone 0\n"
				} else {
					want += fmt.Sprintf("done %d\n", 128+ipc.SIGKILL)
				}
				kill(res.PID, ipc.SIGUSR2)
				if _, err := clients[0].Wait(ctx, res.PID); err != nil {
					t.Fatal(err)
				}
				// The child's last output reaches the log before it exits.
				if got, err := logOf(ctx, clients[0], res.PID); err != nil || got != want {
					t.Fatalf("got %q, %v, want %q: the stopped or killed receiver on node 2 must take nothing", got, err, want)
				}
			})
		}
	}

	// A handled signal interrupts a remote receive with EINTR; the message
	// sent next is received, not lost.
	t.Run("mq/eintr", func(t *testing.T) {
		if err := clients[0].MQCreate(ctx, api.MQCreateRequest{Name: "/intr", Node: names[0], MaxMsg: 4, MsgSize: 64}); err != nil {
			t.Fatal(err)
		}
		res, err := clients[2].Spawn(ctx, api.SpawnRequest{Command: "recvloop", Args: []string{"/intr"}, Node: names[2]})
		if err != nil {
			t.Fatal(err)
		}
		if err := clients[1].MQSend(ctx, api.MQSendRequest{Name: "/intr", Message: []byte("warm")}); err != nil {
			t.Fatal(err)
		}
		waitLog(t, ctx, clients[2], res.PID, "warm\n")
		blockedIn(t, ctx, clients[2], res.PID)
		kill(res.PID, ipc.SIGUSR1)
		waitLog(t, ctx, clients[2], res.PID, "eintr\n")
		if err := clients[1].MQSend(ctx, api.MQSendRequest{Name: "/intr", Message: []byte("after")}); err != nil {
			t.Fatal(err)
		}
		if _, err := clients[2].Wait(ctx, res.PID); err != nil {
			t.Fatal(err)
		}
		out, err := logOf(ctx, clients[2], res.PID)
		if want := "warm\nhandled\neintr\nafter\n"; err != nil || out != want {
			t.Fatalf("got %q, %v, want %q", out, err, want)
		}
	})
}

// progStopSend is "stopsend NODE": yes on NODE writes into a pipe it
// inherits until the pipe is full. At SIGUSR1 (the test has stopped yes)
// it drains the pipe, waits a moment and prints "later N", the bytes that
// arrived since; at SIGUSR2 (yes continued) it prints "more" once bytes
// flow again, closes the pipe and prints "done CODE" for yes.
func progStopSend(s *Sys) int {
	var usr1, usr2 bool
	s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) { usr1 = true })
	s.Signal(ipc.SIGUSR2, func(*Sys, ipc.Signal) { usr2 = true })
	r, w, err := s.Pipe()
	if err != nil {
		return 1
	}
	if _, err := s.Fcntl(r, node.F_SETFL, node.O_NONBLOCK); err != nil {
		return 1
	}
	child, err := s.Spawn(node.SpawnAttr{Command: "yes", Node: s.Args()[0], Files: []int{-1, w, 2}})
	if err != nil {
		s.Errorf("stopsend: %v", err)
		return 1
	}
	s.Close(w)
	s.Printf("child %d\n", child)
	buf := make([]byte, 64<<10)
	drain := func() int {
		total := 0
		for range 1000 {
			n, err := s.Read(r, buf)
			total += max(n, 0)
			if err != nil || n == 0 {
				break
			}
		}
		return total
	}
	for !usr1 {
		s.Pause()
	}
	drain()
	s.Sleep(300 * time.Millisecond)
	s.Printf("later %d\n", drain())
	for !usr2 {
		s.Pause()
	}
	for i := 0; i < 400 && drain() == 0; i++ {
		s.Sleep(50 * time.Millisecond)
	}
	s.Printf("more\n")
	s.Close(r)
	for {
		_, ws, err := s.Wait4(child, 0)
		if errors.Is(err, ipc.EINTR) {
			continue
		}
		s.Printf("done %d\n", ws.Code())
		return 0
	}
}

// A writer on another node blocked on a full pipe writes nothing while it
// is stopped, goes on once continued, and gets EPIPE when the last reader
// closes.
func TestBlockedSenderAcrossNodes(t *testing.T) {
	clients, names := pipelineCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kill := func(target uint64, sig ipc.Signal) {
		t.Helper()
		if _, err := clients[1].Kill(ctx, api.KillRequest{Targets: []int64{int64(target)}, Signal: int(sig)}); err != nil {
			t.Fatalf("kill -%d %d: %v", sig, target, err)
		}
	}
	res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "stopsend", Args: []string{names[2]}, Node: names[0]})
	if err != nil {
		t.Fatal(err)
	}
	out := waitLog(t, ctx, clients[0], res.PID, "child ")
	var child uint64
	if _, err := fmt.Sscanf(out, "child %d\n", &child); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	blockedIn(t, ctx, clients[2], child) // on the full pipe
	kill(child, ipc.SIGSTOP)
	inState(t, ctx, clients[1], child, "stopped")
	kill(res.PID, ipc.SIGUSR1)
	waitLog(t, ctx, clients[0], res.PID, "later ")
	kill(child, ipc.SIGCONT)
	inState(t, ctx, clients[1], child, "running")
	kill(res.PID, ipc.SIGUSR2)
	if _, err := clients[0].Wait(ctx, res.PID); err != nil {
		t.Fatal(err)
	}
	out, err = logOf(ctx, clients[0], res.PID)
	if want := fmt.Sprintf("child %d\nlater 0\nmore\ndone %d\n", child, 128+ipc.SIGPIPE); err != nil || out != want {
		t.Fatalf("got %q, %v, want %q: a stopped writer writes nothing", out, err, want)
	}
}
