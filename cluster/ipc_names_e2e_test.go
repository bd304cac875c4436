package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// TestIPCNamesAreCleanedAtTheAPI: a name is a path, so "/x/../c" and "/c"
// are one FIFO whichever node is asked, and a queue sent to as
// "/a/../../b" through one node is the "/b" another node receives from.
func TestIPCNamesAreCleanedAtTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	c := MakeCluster(t, 3)
	cls := ipcClients(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	if err := cls[0].FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/x/../c"}); err != nil {
		t.Fatalf("fifo create /x/../c: %v", err)
	}
	for i, p := range []string{"/c", "//c", "/../c", "/./c/"} {
		if err := cls[1+i%2].FIFOCreate(ctx, api.FIFOCreateRequest{Path: p}); errnoCode(err) != "EEXIST" {
			t.Errorf("fifo create %s after /x/../c: got %v, want EEXIST", p, err)
		}
	}
	l, err := cls[2].IPCList(ctx, "fifo", client.ReadOpts{})
	if err != nil || len(l.Objects) != 1 || l.Objects[0].Name != "/c" {
		t.Fatalf("fifo list = %+v, %v; want the one FIFO /c", l, err)
	}
	if err := cls[1].FIFORemove(ctx, "/y/./../c"); err != nil {
		t.Fatalf("fifo rm /y/./../c: %v", err)
	}
	if l, err := cls[0].IPCList(ctx, "fifo", client.ReadOpts{}); err != nil || len(l.Objects) != 0 {
		t.Fatalf("fifo list after rm = %+v, %v; want none", l, err)
	}

	n2 := c.agents[2].Name()
	if err := cls[0].MQCreate(ctx, api.MQCreateRequest{Name: "//b", Node: n2}); err != nil {
		t.Fatalf("mq create //b on %s: %v", n2, err)
	}
	if l, err := cls[1].IPCList(ctx, "mq", client.ReadOpts{}); err != nil || len(l.Objects) != 1 || l.Objects[0].Name != "/b" {
		t.Fatalf("mq list = %+v, %v; want /b", l, err)
	}
	if err := cls[0].MQSend(ctx, api.MQSendRequest{Name: "/a/../../b", Message: []byte("hi"), NonBlock: true}); err != nil {
		t.Fatalf("mq send to /a/../../b through node 0: %v", err)
	}
	m, err := cls[1].MQRecv(ctx, api.MQRecvRequest{Name: "/b", NonBlock: true})
	if err != nil || string(m.Message) != "hi" {
		t.Fatalf("mq recv /b through node 1 = %q, %v; want hi", m.Message, err)
	}
	if err := cls[1].MQUnlink(ctx, "/./b"); err != nil {
		t.Fatalf("mq rm /./b: %v", err)
	}
}
