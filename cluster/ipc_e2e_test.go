package cluster

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func ipcClients(t *testing.T, c *testCluster) []*client.Client {
	t.Helper()
	var out []*client.Client
	for _, a := range c.agents {
		cfg := client.DefaultConfig()
		cfg.Addr = "http://" + a.HTTPAddr()
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		out = append(out, cl)
	}
	return out
}

// runOn runs a program on a node through cl and returns its output and
// exit code.
func runOn(t *testing.T, ctx context.Context, cl *client.Client, nodeName string, cmd string, args ...string) (string, int) {
	t.Helper()
	res, err := cl.Spawn(ctx, api.SpawnRequest{Command: cmd, Args: args, Node: nodeName})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl.Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cl.Logs(ctx, res.PID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	code := -1
	if p.ExitCode != nil {
		code = *p.ExitCode
	}
	return string(out), code
}

func errnoCode(err error) string {
	var se *client.StatusError
	if errors.As(err, &se) {
		var ae *api.Error
		if errors.As(se.Err, &ae) {
			return ae.Code
		}
	}
	return ""
}

// TestIPCAcrossNodes: a queue held by node 0, sent to by a process on
// node 1 and received from by one on node 2, in priority order; a FIFO
// written on one node and read on another until EOF; a name held elsewhere
// is EEXIST; the objects of a crashed node are reported lost and their
// names give ENOLINK until unlinked.
func TestIPCAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	c := MakeCluster(t, 3)
	cls := ipcClients(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := []string{c.agents[0].Name(), c.agents[1].Name(), c.agents[2].Name()}

	if err := cls[1].MQCreate(ctx, api.MQCreateRequest{Name: "/q", Node: n[0], MaxMsg: 4, MsgSize: 64}); err != nil {
		t.Fatal(err)
	}
	if err := cls[2].MQCreate(ctx, api.MQCreateRequest{Name: "/q"}); errnoCode(err) != "EEXIST" {
		t.Fatalf("create of /q on node 2 while node 0 holds it: got %v, want EEXIST", err)
	}
	list, err := cls[2].IPCList(ctx, "mq", client.ReadOpts{})
	if err != nil || len(list.Objects) != 1 || list.Objects[0].Node != n[0] || list.Objects[0].MaxMsg != 4 {
		t.Fatalf("mq list = %+v, %v; want /q on %s with maxmsg 4", list, err, n[0])
	}

	// Node 1 sends; the queue fills (4 slots), so a fifth non-blocking
	// send from a process there is EAGAIN.
	if out, code := runOn(t, ctx, cls[1], n[1], "mqsend", "-p", "1", "/q", "low1", "low2"); code != 0 {
		t.Fatalf("mqsend on node 1: exit %d, %q", code, out)
	}
	if out, code := runOn(t, ctx, cls[1], n[1], "mqsend", "-p", "9", "/q", "high1", "high2"); code != 0 {
		t.Fatalf("mqsend on node 1: exit %d, %q", code, out)
	}
	err = cls[1].MQSend(ctx, api.MQSendRequest{Name: "/q", Message: []byte("x"), NonBlock: true})
	if errnoCode(err) != "EAGAIN" {
		t.Fatalf("non-blocking send to the full queue from node 1: got %v, want EAGAIN", err)
	}
	err = cls[1].MQSend(ctx, api.MQSendRequest{Name: "/q", Message: []byte("x"), Timeout: "50ms"})
	if errnoCode(err) != "ETIMEDOUT" {
		t.Fatalf("timed send to the full queue from node 1: got %v, want ETIMEDOUT", err)
	}
	out, code := runOn(t, ctx, cls[2], n[2], "mqrecv", "-n", "4", "/q")
	if want := "high1\nhigh2\nlow1\nlow2\n"; code != 0 || out != want {
		t.Fatalf("mqrecv on node 2: exit %d, %q; want %q (priority order)", code, out, want)
	}
	_, err = cls[2].MQRecv(ctx, api.MQRecvRequest{Name: "/q", NonBlock: true})
	if errnoCode(err) != "EAGAIN" {
		t.Fatalf("non-blocking receive from the empty queue on node 2: got %v, want EAGAIN", err)
	}
	// A blocked receive on node 2 gets a message sent later from node 1.
	got := make(chan error, 1)
	go func() {
		m, err := cls[2].MQRecv(ctx, api.MQRecvRequest{Name: "/q", Timeout: "30s"})
		if err == nil && string(m.Message) != "late" {
			err = errors.New("got " + string(m.Message))
		}
		got <- err
	}()
	if err := cls[1].MQSend(ctx, api.MQSendRequest{Name: "/q", Message: []byte("late"), Priority: 3}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("blocked receive on node 2: %v", err)
	}

	// A FIFO held by node 2, read on node 2... and written from node 0.
	if err := cls[0].FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/f", Node: n[2]}); err != nil {
		t.Fatal(err)
	}
	if err := cls[1].FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/f"}); errnoCode(err) != "EEXIST" {
		t.Fatalf("mkfifo /f on node 1 while node 2 holds it: got %v, want EEXIST", err)
	}
	rd, err := cls[0].Spawn(ctx, api.SpawnRequest{Command: "fifo-read", Args: []string{"/f"}, Node: n[1]})
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runOn(t, ctx, cls[0], n[0], "fifo-write", "/f", "over", "the", "wire"); code != 0 {
		t.Fatalf("fifo-write on node 0: exit %d, %q", code, out)
	}
	p, err := cls[0].Wait(ctx, rd.PID)
	if err != nil || p.ExitCode == nil || *p.ExitCode != 0 {
		t.Fatalf("fifo-read on node 1: %+v, %v; want exit 0 at EOF", p, err)
	}
	rc, err := cls[0].Logs(ctx, rd.PID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "over the wire\n" {
		t.Fatalf("fifo-read on node 1 read %q", b)
	}
	if err := cls[0].FIFORemove(ctx, "/f"); err != nil {
		t.Fatal(err)
	}
	if l, _ := cls[0].IPCList(ctx, "fifo", client.ReadOpts{}); len(l.Objects) != 0 {
		t.Fatalf("fifo list after rm: %+v", l)
	}

	// Node 2 crashes: once the leader declares it lost (lost-timeout,
	// Guarantee 3) its queue is reported lost, and using it is ENOLINK.
	if err := cls[0].MQCreate(ctx, api.MQCreateRequest{Name: "/doomed", Node: n[2]}); err != nil {
		t.Fatal(err)
	}
	c.crash(2)
	poll(t, 60*time.Second, func() error {
		l, err := cls[0].IPCList(ctx, "mq", client.ReadOpts{})
		if err != nil {
			return err
		}
		for _, o := range l.Objects {
			if o.Name == "/doomed" && o.Lost {
				return nil
			}
		}
		return errString("not lost yet")
	})
	err = cls[1].MQSend(ctx, api.MQSendRequest{Name: "/doomed", Message: []byte("x"), NonBlock: true})
	if errnoCode(err) != "ENOLINK" {
		t.Fatalf("send to a lost node's queue: got %v, want ENOLINK", err)
	}
	if err := cls[0].MQCreate(ctx, api.MQCreateRequest{Name: "/doomed"}); errnoCode(err) != "ENOLINK" {
		t.Fatalf("create over a lost name: got %v, want ENOLINK (the name stays taken until unlinked)", err)
	}
	// Node 1 reads the registry linearizably: it sees the loss that node 0
	// listed, and unlinks at once.
	if err := cls[1].MQUnlink(ctx, "/doomed"); err != nil {
		t.Fatal(err)
	}
	// Node 0 reads the registry from its own view: it creates the name
	// once it has applied the unlink.
	poll(t, 10*time.Second, func() error {
		return cls[0].MQCreate(ctx, api.MQCreateRequest{Name: "/doomed"})
	})
}

// TestRegistryReadsAreLinearizable: a name created through one node is
// seen at once through every other, for an open or an unlink, and a name
// removed through one is gone for the others (Guarantees 6 and 7). The
// fault suite found unlinks answered ENOENT by a node whose own table had
// not yet applied the create.
func TestRegistryReadsAreLinearizable(t *testing.T) {
	c := MakeCluster(t, 3)
	cls := ipcClients(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		a, b := cls[i%3], cls[(i+1)%3]
		if err := a.MQCreate(ctx, api.MQCreateRequest{Name: "/lin"}); err != nil {
			t.Fatalf("round %d: create: %v", i, err)
		}
		if err := b.MQSend(ctx, api.MQSendRequest{Name: "/lin", Message: []byte("x"), NonBlock: true}); err != nil {
			t.Fatalf("round %d: send through another node right after the create: %v", i, err)
		}
		if err := b.MQUnlink(ctx, "/lin"); err != nil {
			t.Fatalf("round %d: unlink through another node right after the create: %v", i, err)
		}
		if err := a.FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/lin-fifo"}); err != nil {
			t.Fatalf("round %d: fifo create: %v", i, err)
		}
		if err := b.FIFORemove(ctx, "/lin-fifo"); err != nil {
			t.Fatalf("round %d: fifo remove through another node right after the create: %v", i, err)
		}
	}
}

// TestRestartedNodeReportsItsNamesLost: a node's queues and FIFOs die with
// its agent. When it starts again, before its lease lets anything run, it
// reports lost every name the table says it holds but its new kernel does
// not have: not silently gone, not recreated empty; the name stays taken
// until it is unlinked.
func TestRestartedNodeReportsItsNamesLost(t *testing.T) {
	// A lost timeout far longer than the restart: the leader must not be
	// the one to declare the node lost.
	c := MakeCluster(t, 3, func(_ int, cfg *Config) { cfg.LostTimeout = time.Minute })
	cls := ipcClients(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	victim := c.index(c.followers()[0])
	other := (victim + 1) % 3
	name := c.agents[victim].Name()
	if err := cls[victim].MQCreate(ctx, api.MQCreateRequest{Name: "/survivor", Node: name}); err != nil {
		t.Fatal(err)
	}
	if err := cls[victim].FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/survivor-fifo", Node: name}); err != nil {
		t.Fatal(err)
	}
	c.crash(victim)
	c.start(victim)
	cls = ipcClients(t, c)
	for _, kind := range []string{"mq", "fifo"} {
		poll(t, 30*time.Second, func() error {
			l, err := cls[other].IPCList(ctx, kind, client.ReadOpts{})
			if err != nil {
				return err
			}
			for _, o := range l.Objects {
				if o.Lost {
					return nil
				}
			}
			return errString(kind + " not reported lost yet")
		})
	}
	if err := cls[other].MQCreate(ctx, api.MQCreateRequest{Name: "/survivor"}); errnoCode(err) != "ENOLINK" {
		t.Fatalf("create over a lost name: got %v, want ENOLINK", err)
	}
	if err := cls[other].MQUnlink(ctx, "/survivor"); err != nil {
		t.Fatal(err)
	}
	if err := cls[other].MQCreate(ctx, api.MQCreateRequest{Name: "/survivor"}); err != nil {
		t.Fatalf("create after the unlink: %v", err)
	}
	if err := cls[other].FIFORemove(ctx, "/survivor-fifo"); err != nil {
		t.Fatal(err)
	}
}
