package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// BenchmarkIPCQueueAcrossNodes measures message-queue throughput across
// nodes: 64-byte messages, maxmsg 256, the queue held by the receiving
// node, the sender on another node of an in-process three-node cluster
// (loopback TCP). One op is one message sent and received.
func BenchmarkIPCQueueAcrossNodes(b *testing.B) {
	c := MakeCluster(b, 3)
	holder, sender := c.agents[0].serving.kernel, c.agents[1].serving.kernel
	if err := holder.MqCreate(context.Background(), "/bench", 0o600, "root", &ipc.MQAttr{MaxMsg: 256, MsgSize: 64}); err != nil {
		b.Fatal(err)
	}
	poll(b, 10*time.Second, func() error {
		if _, ok := c.agents[1].localView().Object("mq", "/bench"); !ok {
			return errString("not replicated yet")
		}
		return nil
	})
	rq, err := holder.OpenQueue("/bench", node.O_RDONLY, 0, "root", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rq.Close()
	sq, err := sender.OpenQueue("/bench", node.O_WRONLY, 0, "root", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sq.Close()
	ctx := context.Background()
	msg := make([]byte, 64)
	done := make(chan error, 1)
	b.ResetTimer()
	go func() {
		buf := make([]byte, 64)
		for range b.N {
			if _, _, err := rq.Receive(ctx, buf, false, time.Time{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		if err := sq.Send(ctx, msg, 0, false, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
