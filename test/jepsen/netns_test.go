//go:build linux

package jepsen

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNames = NewNames(4242, 7)

func TestNames(t *testing.T) {
	n := NewNames(4194304, 250) // the largest PID Linux hands out
	for _, link := range []string{n.HostLink(), n.HostPeer(), n.NodeVeth(12), n.SwitchVeth(12)} {
		if len(link) > 15 {
			t.Errorf("interface name %q is longer than IFNAMSIZ-1", link)
		}
	}
	if got, want := testNames.NS(2), "vpj4242-n2"; got != want {
		t.Errorf("got namespace %q, want %q", got, want)
	}
	if got, want := testNames.IP(3), "10.99.7.3"; got != want {
		t.Errorf("got IP %q, want %q", got, want)
	}
	if got, want := testNames.HostIP(), "10.99.7.254"; got != want {
		t.Errorf("got host IP %q, want %q", got, want)
	}
	for _, name := range []string{testNames.NS(1), testNames.SwitchNS(), testNames.HostLink(), testNames.NodeVeth(1)} {
		if pid, ok := OwnerPID(name); !ok || pid != 4242 {
			t.Errorf("OwnerPID(%q) = %d, %v; want 4242", name, pid, ok)
		}
	}
}

func TestSetupCommands(t *testing.T) {
	cmds := SetupCommands(testNames, 2)
	for _, want := range [][]string{
		{"ip", "netns", "add", "vpj4242-sw"},
		{"ip", "-n", "vpj4242-sw", "link", "add", "br0", "type", "bridge"},
		{"ip", "addr", "add", "10.99.7.254/24", "dev", "vpj4242h"},
		{"ip", "netns", "add", "vpj4242-n2"},
		{"ip", "link", "add", "vpj4242n2", "type", "veth", "peer", "name", "vpj4242s2"},
		{"ip", "-n", "vpj4242-n2", "addr", "add", "10.99.7.2/24", "dev", "eth0"},
		{"ip", "-n", "vpj4242-sw", "link", "set", "vpj4242s2", "master", "br0"},
	} {
		if !slices.ContainsFunc(cmds, func(c []string) bool { return reflect.DeepEqual(c, want) }) {
			t.Errorf("setup lacks %q", strings.Join(want, " "))
		}
	}
	for _, c := range cmds {
		if c[0] != "ip" {
			t.Errorf("setup runs %q, want only ip", c)
		}
		if strings.Contains(strings.Join(c, " "), "10.") && !strings.Contains(strings.Join(c, " "), "10.99.7.") {
			t.Errorf("setup uses an address outside 10.99.7.0/24: %q", c)
		}
	}
	td := TeardownCommands(testNames, 2)
	for _, want := range []string{"vpj4242-n1", "vpj4242-n2", "vpj4242-sw"} {
		if !slices.ContainsFunc(td, func(c []string) bool { return reflect.DeepEqual(c, []string{"ip", "netns", "del", want}) }) {
			t.Errorf("teardown does not delete %s: %q", want, td)
		}
	}
}

// dropRule is one DROP rule: in the namespace of slot ns, packets from (or
// to) the address of slot peer.
type dropRule struct {
	ns    int
	chain string
	peer  int
}

// parseRules reads the rules back from iptables argv lists.
func parseRules(t *testing.T, cmds [][]string) []dropRule {
	t.Helper()
	var out []dropRule
	for _, c := range cmds {
		s := strings.Join(c, " ")
		var r dropRule
		var pfx, flag, addr string
		if !strings.HasPrefix(s, "ip netns exec vpj4242-n") || !strings.HasSuffix(s, " -j DROP") {
			t.Fatalf("not a namespaced DROP rule: %q", s)
		}
		if c[4] != "iptables" || c[5] != "-w" || c[7] != "-A" {
			t.Fatalf("unexpected iptables argv %q", s)
		}
		pfx, r.chain, flag, addr = c[3], c[8], c[9], c[10]
		r.ns = int(pfx[len(pfx)-1] - '0')
		r.peer = int(addr[len(addr)-1] - '0')
		if r.chain == "INPUT" && flag != "-s" || r.chain == "OUTPUT" && flag != "-d" {
			t.Fatalf("rule %q: chain %s with %s", s, r.chain, flag)
		}
		if !strings.HasPrefix(addr, "10.99.7.") {
			t.Fatalf("rule %q drops an address outside the run's network", s)
		}
		out = append(out, r)
	}
	return out
}

func TestPartitionCommands(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	slot := func(n string) int { return int(n[1] - '0') }
	rng := picker(99)
	mm, _ := MajorityMinority(nodes, rng)
	br, _ := Bridge(nodes, rng)
	cases := map[string]Grudge{
		"isolate-one":       Isolate(nodes, "n3"),
		"majority-minority": mm,
		"bridge":            br,
		"majorities-ring":   MajoritiesRing(nodes, rng),
	}
	for name, g := range cases {
		t.Run(name, func(t *testing.T) {
			rules := parseRules(t, PartitionCommands(testNames, GrudgeSlots(g, slot)))
			// Each "dst drops src" is an INPUT rule in dst and an OUTPUT rule
			// in src, and nothing else.
			var want []dropRule
			for dst, srcs := range g {
				for _, src := range srcs {
					want = append(want, dropRule{slot(dst), "INPUT", slot(src)}, dropRule{slot(src), "OUTPUT", slot(dst)})
				}
			}
			less := func(a, b dropRule) int {
				if a.ns != b.ns {
					return a.ns - b.ns
				}
				if a.chain != b.chain {
					return strings.Compare(a.chain, b.chain)
				}
				return a.peer - b.peer
			}
			slices.SortFunc(rules, less)
			slices.SortFunc(want, less)
			if !reflect.DeepEqual(rules, want) {
				t.Errorf("got rules %v, want %v", rules, want)
			}
			if !reflect.DeepEqual(PartitionCommands(testNames, GrudgeSlots(g, slot)), PartitionCommands(testNames, GrudgeSlots(g, slot))) {
				t.Error("the same grudge gives commands in a different order")
			}
		})
	}
	heal := HealPartitionCommands(testNames, []int{1, 2})
	want := [][]string{
		{"ip", "netns", "exec", "vpj4242-n1", "iptables", "-w", "5", "-F", "INPUT"},
		{"ip", "netns", "exec", "vpj4242-n1", "iptables", "-w", "5", "-F", "OUTPUT"},
		{"ip", "netns", "exec", "vpj4242-n2", "iptables", "-w", "5", "-F", "INPUT"},
		{"ip", "netns", "exec", "vpj4242-n2", "iptables", "-w", "5", "-F", "OUTPUT"},
	}
	if !reflect.DeepEqual(heal, want) {
		t.Errorf("got heal %q, want %q", heal, want)
	}
}

func TestNetemCommands(t *testing.T) {
	got := NetemCommand(testNames, 2, []string{"delay", "50ms", "10ms", "loss", "5%"})
	want := []string{"ip", "netns", "exec", "vpj4242-n2", "tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "50ms", "10ms", "loss", "5%"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := NetemHealCommand(testNames, 2), []string{"ip", "netns", "exec", "vpj4242-n2", "tc", "qdisc", "del", "dev", "eth0", "root"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := ExecCommand(testNames, 1, []string{"/bin/vproc", "agent"}), []string{"ip", "netns", "exec", "vpj4242-n1", "/bin/vproc", "agent"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStaleNames(t *testing.T) {
	netns := "vpj100-n1 (id: 3)\nvpj100-sw (id: 2)\nvpj200-n1\nother-ns (id: 0)\nvpjx-n1\n\n"
	links := `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
7: vpj100h@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 0a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff link-netns vpj100-sw
9: vpj300h@if8: <BROADCAST,MULTICAST> mtu 1500
11: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500
`
	if got, want := ParseNetnsList(netns), []string{"vpj100-n1", "vpj100-sw", "vpj200-n1", "other-ns", "vpjx-n1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParseNetnsList: got %q, want %q", got, want)
	}
	if got, want := ParseLinkList(links), []string{"lo", "vpj100h", "vpj300h", "docker0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLinkList: got %q, want %q", got, want)
	}
	alive := func(pid int) bool { return pid == 200 }
	if got, want := StaleNames(ParseNetnsList(netns), 999, alive), []string{"vpj100-n1", "vpj100-sw"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stale namespaces: got %q, want %q", got, want)
	}
	if got, want := StaleNames(ParseLinkList(links), 999, alive), []string{"vpj100h", "vpj300h"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stale links: got %q, want %q", got, want)
	}
	// The run's own names are never stale, even if the check says dead.
	if got := StaleNames([]string{"vpj999-n1"}, 999, func(int) bool { return false }); len(got) != 0 {
		t.Errorf("own names reported stale: %q", got)
	}
}

func TestChooseSubnet(t *testing.T) {
	used := ParseUsedSubnets("3: vpj1h    inet 10.99.5.254/24 scope global vpj1h\n4: eth0    inet 10.0.0.2/24\n5: x    inet 10.99.6.254/24\n")
	if !used[5] || !used[6] || len(used) != 2 {
		t.Fatalf("got used %v, want 5 and 6", used)
	}
	if x, err := ChooseSubnet(used, 4); err != nil || x != 7 {
		t.Errorf("got %d, %v; want 7 (5 and 6 taken)", x, err)
	}
	all := make(map[int]bool)
	for i := 1; i <= 250; i++ {
		all[i] = true
	}
	if _, err := ChooseSubnet(all, 1); err == nil {
		t.Error("got a subnet when all are used")
	}
}

func TestAgentArgs(t *testing.T) {
	got := AgentArgs(AgentSpec{
		Binary: "./vproc", Name: "n1", DataDir: "data/n1",
		HTTPAddr: "10.99.7.1:7070", RaftAddr: "10.99.7.1:7071", GossipAddr: "10.99.7.1:7072",
		BootstrapExpect: 3, Join: "10.99.7.2:7072", Retention: 24 * time.Hour,
	})
	want := []string{"./vproc", "agent", "--name", "n1", "--data-dir", "data/n1",
		"--http-addr", "10.99.7.1:7070", "--raft-addr", "10.99.7.1:7071", "--gossip-addr", "10.99.7.1:7072",
		"--bootstrap-expect", "3", "--join", "10.99.7.2:7072", "--retention", "24h0m0s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := AgentArgs(AgentSpec{Binary: "v", Name: "x1"}); slices.Contains(got, "--bootstrap-expect") || slices.Contains(got, "--join") {
		t.Errorf("got %q, want no bootstrap-expect and no join", got)
	}
}
