//go:build linux

package jepsen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NamePrefix is how every name a run creates begins: "vpj" and the PID of
// the process that owns it.
const NamePrefix = "vpj"

// Ports of an agent inside its own namespace: the defaults of the design.
const (
	nsHTTPPort   = 7070
	nsRaftPort   = 7071
	nsGossipPort = 7072
)

// commandTimeout bounds every ip, iptables and tc command.
const commandTimeout = 15 * time.Second

// Network places the nodes on addresses and carries the network faults.
// Slots number the nodes from 1.
type Network interface {
	// Mode is "netns" or "loopback".
	Mode() string
	// Setup creates what slots 1..slots need.
	Setup(ctx context.Context, slots int) error
	// Teardown removes all of it; it is safe to call more than once.
	Teardown() error
	// Addrs returns a slot's HTTP, raft and gossip addresses.
	Addrs(slot int) (httpAddr, raftAddr, gossipAddr string)
	// Command returns a command that runs argv as the slot's process.
	Command(slot int, argv []string) *exec.Cmd
	// Partition applies a grudge between slots; HealPartition removes
	// every cut.
	Partition(ctx context.Context, g map[int][]int) error
	HealPartition(ctx context.Context) error
	// Netem applies tc netem arguments to the slots' interfaces;
	// HealNetem removes them. NetemSupport says whether they can run, and
	// why not.
	NetemSupport(ctx context.Context) (bool, string)
	Netem(ctx context.Context, slots []int, spec []string) error
	HealNetem(ctx context.Context, slots []int) error
}

// Names are the names and addresses of one run's network.
type Names struct {
	Prefix string // NamePrefix and the owner's PID, such as "vpj1234"
	Subnet int    // X of 10.99.X.0/24
}

// NewNames returns the names of the run owned by process pid on subnet
// 10.99.subnet.0/24.
func NewNames(pid, subnet int) Names {
	return Names{Prefix: NamePrefix + strconv.Itoa(pid), Subnet: subnet}
}

// NS is the network namespace of a slot.
func (n Names) NS(slot int) string { return fmt.Sprintf("%s-n%d", n.Prefix, slot) }

// SwitchNS is the namespace that holds the bridge.
func (n Names) SwitchNS() string { return n.Prefix + "-sw" }

// HostLink is the root namespace's end of the veth pair to the bridge;
// HostPeer is its other end, in the switch namespace.
func (n Names) HostLink() string { return n.Prefix + "h" }

// HostPeer is the switch namespace's end of the host's veth pair.
func (n Names) HostPeer() string { return n.Prefix + "hs" }

// NodeVeth is the slot's end of its veth pair (renamed eth0 inside the
// slot's namespace); SwitchVeth is the other end, on the bridge.
func (n Names) NodeVeth(slot int) string { return fmt.Sprintf("%sn%d", n.Prefix, slot) }

// SwitchVeth is the bridge's end of a slot's veth pair.
func (n Names) SwitchVeth(slot int) string { return fmt.Sprintf("%ss%d", n.Prefix, slot) }

// IP is a slot's address.
func (n Names) IP(slot int) string { return fmt.Sprintf("10.99.%d.%d", n.Subnet, slot) }

// HostIP is the harness's address on the bridge.
func (n Names) HostIP() string { return fmt.Sprintf("10.99.%d.254", n.Subnet) }

// nsIface is the slot's interface name inside its namespace.
const nsIface = "eth0"

// SetupCommands returns the commands that build the network of slots
// 1..slots: a bridge in a switch namespace, one namespace per slot joined to
// it by a veth pair, and a veth pair from the root namespace to the bridge
// for the harness.
func SetupCommands(n Names, slots int) [][]string {
	sw := n.SwitchNS()
	cmds := [][]string{
		{"ip", "netns", "add", sw},
		{"ip", "-n", sw, "link", "set", "lo", "up"},
		{"ip", "-n", sw, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", sw, "link", "set", "br0", "up"},
		{"ip", "link", "add", n.HostLink(), "type", "veth", "peer", "name", n.HostPeer()},
		{"ip", "link", "set", n.HostPeer(), "netns", sw},
		{"ip", "-n", sw, "link", "set", n.HostPeer(), "master", "br0"},
		{"ip", "-n", sw, "link", "set", n.HostPeer(), "up"},
		{"ip", "addr", "add", n.HostIP() + "/24", "dev", n.HostLink()},
		{"ip", "link", "set", n.HostLink(), "up"},
	}
	for s := 1; s <= slots; s++ {
		ns := n.NS(s)
		cmds = append(cmds,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "link", "add", n.NodeVeth(s), "type", "veth", "peer", "name", n.SwitchVeth(s)},
			[]string{"ip", "link", "set", n.NodeVeth(s), "netns", ns},
			[]string{"ip", "-n", ns, "link", "set", n.NodeVeth(s), "name", nsIface},
			[]string{"ip", "-n", ns, "addr", "add", n.IP(s) + "/24", "dev", nsIface},
			[]string{"ip", "-n", ns, "link", "set", nsIface, "up"},
			[]string{"ip", "link", "set", n.SwitchVeth(s), "netns", sw},
			[]string{"ip", "-n", sw, "link", "set", n.SwitchVeth(s), "master", "br0"},
			[]string{"ip", "-n", sw, "link", "set", n.SwitchVeth(s), "up"},
		)
	}
	return cmds
}

// TeardownCommands returns the commands that remove the network of slots
// 1..slots. Deleting a namespace deletes the veth ends in it and so their
// peers; the host link is deleted explicitly in case the switch namespace
// never got its end.
func TeardownCommands(n Names, slots int) [][]string {
	var cmds [][]string
	for s := 1; s <= slots; s++ {
		cmds = append(cmds, []string{"ip", "netns", "del", n.NS(s)})
	}
	return append(cmds,
		[]string{"ip", "netns", "del", n.SwitchNS()},
		[]string{"ip", "link", "del", n.HostLink()},
	)
}

// PartitionCommands returns the iptables commands of a grudge between
// slots: for every slot dst that drops packets from src, DROP in dst's
// INPUT from src's address and in src's OUTPUT to dst's address, each
// inside its own namespace. The harness's own address is never dropped.
func PartitionCommands(n Names, g map[int][]int) [][]string {
	var cmds [][]string
	for _, dst := range sortedKeys(g) {
		srcs := slices.Clone(g[dst])
		slices.Sort(srcs)
		for _, src := range srcs {
			if src == dst {
				continue
			}
			cmds = append(cmds,
				[]string{"ip", "netns", "exec", n.NS(dst), "iptables", "-w", "5", "-A", "INPUT", "-s", n.IP(src), "-j", "DROP"},
				[]string{"ip", "netns", "exec", n.NS(src), "iptables", "-w", "5", "-A", "OUTPUT", "-d", n.IP(dst), "-j", "DROP"},
			)
		}
	}
	return cmds
}

// HealPartitionCommands returns the commands that flush the INPUT and
// OUTPUT chains of every slot's namespace. The namespaces are the run's
// own, so nothing else has rules there.
func HealPartitionCommands(n Names, slots []int) [][]string {
	var cmds [][]string
	for _, s := range slots {
		cmds = append(cmds,
			[]string{"ip", "netns", "exec", n.NS(s), "iptables", "-w", "5", "-F", "INPUT"},
			[]string{"ip", "netns", "exec", n.NS(s), "iptables", "-w", "5", "-F", "OUTPUT"},
		)
	}
	return cmds
}

// NetemCommand returns the tc command that sets netem spec on a slot's
// interface.
func NetemCommand(n Names, slot int, spec []string) []string {
	return append([]string{"ip", "netns", "exec", n.NS(slot), "tc", "qdisc", "replace", "dev", nsIface, "root", "netem"}, spec...)
}

// NetemHealCommand returns the tc command that removes netem from a slot's
// interface.
func NetemHealCommand(n Names, slot int) []string {
	return []string{"ip", "netns", "exec", n.NS(slot), "tc", "qdisc", "del", "dev", nsIface, "root"}
}

// ExecCommand returns the argv that runs argv inside a slot's namespace.
func ExecCommand(n Names, slot int, argv []string) []string {
	return append([]string{"ip", "netns", "exec", n.NS(slot)}, argv...)
}

// GrudgeSlots turns a grudge between node names into one between slots.
func GrudgeSlots(g Grudge, slotOf func(name string) int) map[int][]int {
	out := make(map[int][]int, len(g))
	for dst, srcs := range g {
		d := slotOf(dst)
		if d <= 0 {
			continue
		}
		for _, src := range srcs {
			if s := slotOf(src); s > 0 {
				out[d] = append(out[d], s)
			}
		}
	}
	return out
}

// ---- stale runs ----

var ownedName = regexp.MustCompile(`^` + NamePrefix + `([0-9]+)`)

// OwnerPID returns the PID that owns a name made by NewNames, and whether
// the name is one.
func OwnerPID(name string) (int, bool) {
	m := ownedName.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// ParseNetnsList returns the namespace names of `ip netns list` output,
// whose lines look like "vpj12-n1 (id: 3)" or "vpj12-n1".
func ParseNetnsList(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// ParseLinkList returns the interface names of `ip -o link show` output,
// whose lines look like "7: vpj12h@if6: <BROADCAST,...> mtu 1500 ...".
func ParseLinkList(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if at := strings.IndexByte(name, '@'); at >= 0 {
			name = name[:at]
		}
		names = append(names, name)
	}
	return names
}

// ParseUsedSubnets returns the X of every 10.99.X.Y address in `ip -4 -o
// addr show` output.
func ParseUsedSubnets(out string) map[int]bool {
	used := make(map[int]bool)
	for _, m := range regexp.MustCompile(`inet 10\.99\.([0-9]+)\.[0-9]+`).FindAllStringSubmatch(out, -1) {
		if x, err := strconv.Atoi(m[1]); err == nil {
			used[x] = true
		}
	}
	return used
}

// ChooseSubnet picks X for 10.99.X.0/24, starting from one derived from
// pid and skipping used ones.
func ChooseSubnet(used map[int]bool, pid int) (int, error) {
	start := pid % 250
	for i := 0; i < 250; i++ {
		x := 1 + (start+i)%250
		if !used[x] {
			return x, nil
		}
	}
	return 0, errors.New("every 10.99.X.0/24 is in use")
}

// StaleNames returns the names made by a run whose owner is not alive (and
// is not self).
func StaleNames(names []string, self int, alive func(pid int) bool) []string {
	var out []string
	for _, name := range names {
		pid, ok := OwnerPID(name)
		if ok && pid != self && !alive(pid) {
			out = append(out, name)
		}
	}
	return out
}

// pidAlive reports whether a process with the PID exists.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// CleanStale removes the namespaces (killing the processes still in them)
// and the root-namespace links of earlier runs whose owner is dead. It
// returns what it removed.
func CleanStale(ctx context.Context) ([]string, error) {
	self := os.Getpid()
	var removed []string
	var errs []error
	out, err := runCmd(ctx, []string{"ip", "netns", "list"})
	if err != nil {
		return nil, err
	}
	for _, ns := range StaleNames(ParseNetnsList(out), self, pidAlive) {
		if pids, err := runCmd(ctx, []string{"ip", "netns", "pids", ns}); err == nil {
			for _, f := range strings.Fields(pids) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL) // an agent of the dead run
				}
			}
		}
		if _, err := runCmd(ctx, []string{"ip", "netns", "del", ns}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "netns "+ns)
	}
	out, err = runCmd(ctx, []string{"ip", "-o", "link", "show"})
	if err != nil {
		return removed, errors.Join(append(errs, err)...)
	}
	for _, link := range StaleNames(ParseLinkList(out), self, pidAlive) {
		if _, err := runCmd(ctx, []string{"ip", "link", "del", link}); err != nil {
			if !gone(err) { // a veth's peer goes with it
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, "link "+link)
	}
	return removed, errors.Join(errs...)
}

// gone reports whether a failed ip command failed because what it was to
// delete is already gone.
func gone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find device") || strings.Contains(msg, "No such file") ||
		strings.Contains(msg, "does not exist")
}

// runCmd runs argv, bounded by commandTimeout, and returns its standard
// output; an error carries the standard error.
func runCmd(ctx context.Context, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// NetnsAvailable reports whether this process can build namespaces: root,
// with ip and iptables on the PATH, and why not.
func NetnsAvailable() (bool, string) {
	if os.Geteuid() != 0 {
		return false, "not root"
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false, tool + " not found"
		}
	}
	return true, ""
}

// ---- the namespace network ----

// netnsNetwork puts every node in its own namespace (see SetupCommands).
type netnsNetwork struct {
	names Names
	logf  func(format string, args ...any)

	mu    sync.Mutex
	slots int // guarded by mu; how many slots Setup made, 0 after Teardown
}

// NewNetnsNetwork returns a namespace network for the current process on a
// free 10.99.X.0/24.
func NewNetnsNetwork(ctx context.Context, logf func(format string, args ...any)) (Network, error) {
	out, err := runCmd(ctx, []string{"ip", "-4", "-o", "addr", "show"})
	if err != nil {
		return nil, err
	}
	x, err := ChooseSubnet(ParseUsedSubnets(out), os.Getpid())
	if err != nil {
		return nil, err
	}
	return &netnsNetwork{names: NewNames(os.Getpid(), x), logf: logf}, nil
}

func (n *netnsNetwork) Mode() string { return "netns" }

func (n *netnsNetwork) Setup(ctx context.Context, slots int) error {
	n.mu.Lock()
	n.slots = slots
	n.mu.Unlock()
	n.logf("network: 10.99.%d.0/24, namespaces %s-n1..n%d, bridge in %s, harness at %s",
		n.names.Subnet, n.names.Prefix, slots, n.names.SwitchNS(), n.names.HostIP())
	for _, argv := range SetupCommands(n.names, slots) {
		if _, err := runCmd(ctx, argv); err != nil {
			return err
		}
	}
	return nil
}

func (n *netnsNetwork) Teardown() error {
	n.mu.Lock()
	slots := n.slots
	n.slots = 0
	n.mu.Unlock()
	if slots == 0 {
		return nil
	}
	ctx := context.Background()
	var errs []error
	for s := 1; s <= slots; s++ {
		// Anything still running in a namespace was started by this run.
		if pids, err := runCmd(ctx, []string{"ip", "netns", "pids", n.names.NS(s)}); err == nil {
			for _, f := range strings.Fields(pids) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	for _, argv := range TeardownCommands(n.names, slots) {
		if _, err := runCmd(ctx, argv); err != nil && !gone(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (n *netnsNetwork) Addrs(slot int) (string, string, string) {
	ip := n.names.IP(slot)
	return net.JoinHostPort(ip, strconv.Itoa(nsHTTPPort)),
		net.JoinHostPort(ip, strconv.Itoa(nsRaftPort)),
		net.JoinHostPort(ip, strconv.Itoa(nsGossipPort))
}

func (n *netnsNetwork) Command(slot int, argv []string) *exec.Cmd {
	a := ExecCommand(n.names, slot, argv)
	return exec.Command(a[0], a[1:]...)
}

func (n *netnsNetwork) allSlots() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []int
	for s := 1; s <= n.slots; s++ {
		out = append(out, s)
	}
	return out
}

func (n *netnsNetwork) Partition(ctx context.Context, g map[int][]int) error {
	for _, argv := range PartitionCommands(n.names, g) {
		if _, err := runCmd(ctx, argv); err != nil {
			return err
		}
	}
	return nil
}

func (n *netnsNetwork) HealPartition(ctx context.Context) error {
	var errs []error
	for _, argv := range HealPartitionCommands(n.names, n.allSlots()) {
		if _, err := runCmd(ctx, argv); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (n *netnsNetwork) NetemSupport(ctx context.Context) (bool, string) {
	if _, err := exec.LookPath("tc"); err != nil {
		return false, "tc not found"
	}
	probe := []string{"ip", "netns", "exec", n.names.NS(1), "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}
	if _, err := runCmd(ctx, probe); err != nil {
		return false, "the kernel lacks sch_netem (" + err.Error() + ")"
	}
	_, _ = runCmd(ctx, []string{"ip", "netns", "exec", n.names.NS(1), "tc", "qdisc", "del", "dev", "lo", "root"})
	return true, ""
}

func (n *netnsNetwork) Netem(ctx context.Context, slots []int, spec []string) error {
	for _, s := range slots {
		if _, err := runCmd(ctx, NetemCommand(n.names, s, spec)); err != nil {
			return err
		}
	}
	return nil
}

func (n *netnsNetwork) HealNetem(ctx context.Context, slots []int) error {
	var errs []error
	for _, s := range slots {
		if _, err := runCmd(ctx, NetemHealCommand(n.names, s)); err != nil &&
			!strings.Contains(err.Error(), "No such file") && !strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ---- the loopback network ----

// loopbackNetwork puts every node on its own loopback address 127.0.0.x
// with free ports, or fixed ones from a base port. It has no network
// faults.
type loopbackNetwork struct {
	basePort int // read-only; 0 for free ports

	mu    sync.Mutex
	ports map[int][3]int // guarded by mu; slot → http, raft, gossip
}

// NewLoopbackNetwork returns the loopback network. With basePort > 0, slot
// s listens on basePort+3(s-1) (HTTP), +1 (raft) and +2 (gossip); with 0,
// on free ports.
func NewLoopbackNetwork(basePort int) Network {
	return &loopbackNetwork{basePort: basePort, ports: make(map[int][3]int)}
}

// loopbackIP is a slot's loopback address.
func loopbackIP(slot int) string { return fmt.Sprintf("127.0.0.%d", 10+slot) }

func (l *loopbackNetwork) Mode() string { return "loopback" }

func (l *loopbackNetwork) Setup(_ context.Context, slots int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := 1; s <= slots; s++ {
		var p [3]int
		if l.basePort > 0 {
			b := l.basePort + 3*(s-1)
			l.ports[s] = [3]int{b, b + 1, b + 2}
			continue
		}
		for i := range p {
			port, err := freePort(loopbackIP(s), i == 2)
			if err != nil {
				return err
			}
			p[i] = port
		}
		l.ports[s] = p
	}
	return nil
}

// freePort finds a free TCP port on ip; with udp too, one free for UDP as
// well (gossip uses both).
func freePort(ip string, udp bool) (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !udp {
			ln.Close()
			return port, nil
		}
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port on %s", ip)
}

func (l *loopbackNetwork) Teardown() error { return nil }

func (l *loopbackNetwork) Addrs(slot int) (string, string, string) {
	l.mu.Lock()
	p := l.ports[slot]
	l.mu.Unlock()
	ip := loopbackIP(slot)
	return net.JoinHostPort(ip, strconv.Itoa(p[0])), net.JoinHostPort(ip, strconv.Itoa(p[1])), net.JoinHostPort(ip, strconv.Itoa(p[2]))
}

func (l *loopbackNetwork) Command(_ int, argv []string) *exec.Cmd {
	return exec.Command(argv[0], argv[1:]...)
}

var errNoNetworkFaults = errors.New("loopback network: no network faults")

func (l *loopbackNetwork) Partition(context.Context, map[int][]int) error { return errNoNetworkFaults }
func (l *loopbackNetwork) HealPartition(context.Context) error            { return nil }
func (l *loopbackNetwork) NetemSupport(context.Context) (bool, string) {
	return false, "loopback network"
}
func (l *loopbackNetwork) Netem(context.Context, []int, []string) error { return errNoNetworkFaults }
func (l *loopbackNetwork) HealNetem(context.Context, []int) error       { return nil }
