package wasm

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/vproc/vproc/ipc"
)

// WASI event types and subscription flags.
const (
	eventClock       = 0
	eventFdRead      = 1
	eventFdWrite     = 2
	subclockAbstime  = 1
	subscriptionSize = 48
	eventSize        = 32
	maxSubscriptions = 4096
)

// pollOneoff waits for the earliest clock subscription, without a CPU
// slot. Descriptor subscriptions are reported ready at once: a read or
// write on a blocking descriptor then blocks in the kernel, without a slot,
// until it can go on; a non-blocking one answers EAGAIN.
func pollOneoff(p *proc, m api.Memory, st []uint64) uint32 {
	in, out, n, neventsPtr := uint32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3])
	if n == 0 {
		p.s.Getpid()
		return errnoInval
	}
	if n > maxSubscriptions {
		p.s.Getpid()
		return errnoInval
	}
	subs, ok := m.Read(in, n*subscriptionSize)
	if !ok {
		return errnoFault
	}
	events, ok := m.Read(out, n*eventSize)
	if !ok {
		return errnoFault
	}
	now := p.s.Now()
	var nevents uint32
	emit := func(userdata uint64, errno uint16, typ uint8) {
		ev := events[nevents*eventSize : (nevents+1)*eventSize]
		clear(ev)
		binary.LittleEndian.PutUint64(ev[0:], userdata)
		binary.LittleEndian.PutUint16(ev[8:], errno)
		ev[10] = typ
		nevents++
	}
	earliest := time.Duration(-1)
	deadlines := make([]time.Duration, n)
	for i := uint32(0); i < n; i++ {
		s := subs[i*subscriptionSize : (i+1)*subscriptionSize]
		userdata := binary.LittleEndian.Uint64(s[0:])
		switch s[8] {
		case eventClock:
			id := binary.LittleEndian.Uint32(s[16:])
			timeout := binary.LittleEndian.Uint64(s[24:])
			flags := binary.LittleEndian.Uint16(s[40:])
			var d time.Duration
			switch {
			case id > clockThread:
				emit(userdata, uint16(errnoInval), eventClock)
				deadlines[i] = -1
				continue
			case flags&subclockAbstime == 0:
				d = time.Duration(min(timeout, 1<<62))
			case id == clockRealtime:
				d = time.Unix(0, int64(min(timeout, 1<<62))).Sub(now)
			default:
				d = time.Duration(min(timeout, 1<<62)) - now.Sub(epoch)
			}
			d = max(d, 0)
			deadlines[i] = d
			if earliest < 0 || d < earliest {
				earliest = d
			}
		case eventFdRead, eventFdWrite:
			deadlines[i] = -1
			fd := binary.LittleEndian.Uint32(s[16:])
			_, errno := p.kernel(fd)
			emit(userdata, uint16(errno), s[8])
		default:
			deadlines[i] = -1
			emit(userdata, uint16(errnoInval), s[8])
		}
	}
	if nevents == 0 && earliest >= 0 {
		if err := p.s.Sleep(earliest); err != nil && !errors.Is(err, ipc.EINTR) {
			return errnoOf(err)
		}
		for i := uint32(0); i < n; i++ {
			if deadlines[i] >= 0 && deadlines[i] <= earliest {
				emit(binary.LittleEndian.Uint64(subs[i*subscriptionSize:]), 0, eventClock)
			}
		}
	}
	return fault(putU32(m, neventsPtr, nevents))
}

func procRaise(p *proc, _ api.Memory, st []uint64) uint32 {
	sig, ok := signalOf(uint32(st[0]))
	if !ok {
		p.s.Getpid()
		return errnoInval
	}
	return errnoOf(p.s.Kill(p.s.Getpid(), sig))
}

func schedYield(p *proc, _ api.Memory, _ []uint64) uint32 {
	p.s.Yield()
	return errnoSuccess
}

// maxRandom caps one random_get, as getrandom(2) caps one call.
const maxRandom = 1 << 25

func randomGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	n := uint32(st[1])
	if n > maxRandom {
		return errnoInval
	}
	b, ok := m.Read(uint32(st[0]), n)
	if !ok {
		return errnoFault
	}
	if _, err := rand.Read(b); err != nil {
		return errnoIO
	}
	return errnoSuccess
}

// sockNotsock answers the socket calls: vproc gives a module no sockets, so
// every descriptor is not one.
func sockNotsock(p *proc, _ api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	if _, errno := p.get(uint32(st[0])); errno != errnoSuccess {
		return errno
	}
	return errnoNotsock
}
