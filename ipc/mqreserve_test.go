package ipc

import (
	"errors"
	"testing"
	"time"
)

func TestMQReserve(t *testing.T) {
	ns := NewMQNamespace()
	d, err := ns.Open("/r", O_RDWR|O_CREAT, 0o600, "u", &MQAttr{MaxMsg: 4, MsgSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := NewWaiter()
	got, err := d.Reserve(w, 3, false, time.Time{})
	if err != nil || got != 3 {
		t.Fatalf("Reserve(3) = %d, %v; want 3, nil", got, err)
	}
	// One slot is left for everyone else.
	if err := d.Send(w, []byte("local"), 0, time.Time{}); err != nil {
		t.Fatalf("Send into the last free slot: %v", err)
	}
	nb := d.Dup()
	defer nb.Close()
	nb.SetAttr(O_NONBLOCK)
	if err := nb.Send(w, []byte("x"), 0, time.Time{}); !errors.Is(err, EAGAIN) {
		t.Fatalf("Send with every slot taken or reserved: got %v, want EAGAIN", err)
	}
	if _, err := d.Reserve(w, 1, true, time.Time{}); !errors.Is(err, EAGAIN) {
		t.Fatalf("non-blocking Reserve of a full queue: got %v, want EAGAIN", err)
	}
	if _, err := d.Reserve(w, 1, false, time.Now().Add(10*time.Millisecond)); !errors.Is(err, ETIMEDOUT) {
		t.Fatalf("timed Reserve of a full queue: got %v, want ETIMEDOUT", err)
	}
	if a := d.GetAttr(); a.CurMsgs != 1 {
		t.Fatalf("CurMsgs = %d with 3 reserved; want 1 (reservations are not messages)", a.CurMsgs)
	}
	if err := d.SendReserved([]byte("low"), 1); err != nil {
		t.Fatal(err)
	}
	if err := d.SendReserved([]byte("high"), 9); err != nil {
		t.Fatal(err)
	}
	if err := d.SendReserved(make([]byte, 17), 0); !errors.Is(err, EMSGSIZE) {
		t.Fatalf("SendReserved of 17 bytes into msgsize 16: got %v, want EMSGSIZE", err)
	}
	d.Unreserve(5) // gives back the one left, no more
	if err := d.SendReserved([]byte("x"), 0); !errors.Is(err, EAGAIN) {
		t.Fatalf("SendReserved with nothing reserved: got %v, want EAGAIN", err)
	}
	buf := make([]byte, 16)
	for _, want := range []string{"high", "low", "local"} {
		n, _, err := d.Receive(w, buf, time.Time{})
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("Receive = %q, %v; want %q", buf[:n], err, want)
		}
	}
	if _, err := d.Reserve(w, 0, false, time.Time{}); !errors.Is(err, EINVAL) {
		t.Fatalf("Reserve(0): got %v, want EINVAL", err)
	}
}
