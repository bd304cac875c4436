package fsm

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/btree"
)

// Program is the table's record of a user program: a WebAssembly module
// stored by content on some nodes. The bytes are never in the log; the
// record says which nodes hold them, so that another node can fetch them by
// hash.
type Program struct {
	Name        string
	Hash        string   // sha256 of the bytes, 64 lowercase hex digits
	Size        uint64   // bytes
	Owner       string   // the user who added it
	Holders     []string // nodes known to hold the bytes, sorted
	CreatedAt   int64    // leader time of the add, Unix ns
	CreateIndex uint64
	ModifyIndex uint64
}

// MaxProgramName bounds a program's name.
const MaxProgramName = 255

// validProgram checks a program's name and hash: a name is a command name
// (no '/', no space, no NUL, not "." or ".."), a hash 64 lowercase hex
// digits.
func validProgram(name, hash string) error {
	switch {
	case name == "" || name == "." || name == ".." || len(name) > MaxProgramName:
		return errorf(ErrInvalid, fmt.Sprintf("program name %q", name))
	case strings.ContainsAny(name, "/ \t\n\x00"):
		return errorf(ErrInvalid, fmt.Sprintf("program name %q", name))
	}
	if len(hash) != 64 {
		return errorf(ErrInvalid, fmt.Sprintf("program hash %q", hash))
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errorf(ErrInvalid, fmt.Sprintf("program hash %q", hash))
		}
	}
	return nil
}

// ProgramAdd records a program under Name, replacing an older record of
// that name (as installing a new version of a binary does).
type ProgramAdd struct {
	Name    string
	Hash    string
	Size    uint64
	Owner   string
	Holders []string
	Now     int64 // leader time
}

// Type returns TypeProgramAdd.
func (c *ProgramAdd) Type() Type { return TypeProgramAdd }

func (c *ProgramAdd) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.Name)
	e.str(c.Hash)
	e.uint(c.Size)
	e.str(c.Owner)
	e.strs(c.Holders)
	e.int(c.Now)
}

func decodeProgramAdd(d *decoder) Command {
	d.version(1, "program-add")
	return &ProgramAdd{Name: d.str(), Hash: d.str(), Size: d.uint(), Owner: d.str(), Holders: d.strs(), Now: d.int()}
}

// ProgramRemove removes a program's record. Processes running it go on.
type ProgramRemove struct {
	Name string
}

// Type returns TypeProgramRemove.
func (c *ProgramRemove) Type() Type { return TypeProgramRemove }

func (c *ProgramRemove) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.Name)
}

func decodeProgramRemove(d *decoder) Command {
	d.version(1, "program-remove")
	return &ProgramRemove{Name: d.str()}
}

// ProgramHolder records that Node now holds the bytes of Hash (it fetched
// them). Every program with that hash lists the node.
type ProgramHolder struct {
	Hash string
	Node string
}

// Type returns TypeProgramHolder.
func (c *ProgramHolder) Type() Type { return TypeProgramHolder }

func (c *ProgramHolder) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.Hash)
	e.str(c.Node)
}

func decodeProgramHolder(d *decoder) Command {
	d.version(1, "program-holder")
	return &ProgramHolder{Hash: d.str(), Node: d.str()}
}

// progItem is a program in the table, keyed by name.
type progItem struct {
	name string
	p    *Program
}

func lessProg(a, b progItem) bool { return a.name < b.name }

func newPrograms() *btree.BTreeG[progItem] { return btree.NewG(btreeDegree, lessProg) }

// sortedSet returns holders sorted, without duplicates or empty names.
func sortedSet(holders []string) []string {
	out := make([]string, 0, len(holders))
	for _, h := range holders {
		if h != "" {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	j := 0
	for i, h := range out {
		if i == 0 || h != out[j-1] {
			out[j] = h
			j++
		}
	}
	return out[:j]
}

func (a *applier) programAdd(c *ProgramAdd) *Result {
	if err := validProgram(c.Name, c.Hash); err != nil {
		return fail(err)
	}
	s := a.s
	p := &Program{
		Name:        c.Name,
		Hash:        c.Hash,
		Size:        c.Size,
		Owner:       c.Owner,
		Holders:     sortedSet(c.Holders),
		CreatedAt:   s.clock,
		CreateIndex: a.index,
		ModifyIndex: a.index,
	}
	if c.Now > s.clock {
		p.CreatedAt = c.Now
	}
	s.programs.ReplaceOrInsert(progItem{name: p.Name, p: p})
	return &Result{}
}

func (a *applier) programRemove(c *ProgramRemove) *Result {
	if _, ok := a.s.programs.Delete(progItem{name: c.Name}); !ok {
		return failf(ErrNoSuchName, "program %q", c.Name)
	}
	return &Result{}
}

func (a *applier) programHolder(c *ProgramHolder) *Result {
	if c.Node == "" {
		return failf(ErrInvalid, "program holder without a node")
	}
	var changed []*Program
	a.s.programs.Ascend(func(it progItem) bool {
		if it.p.Hash == c.Hash {
			i := sort.SearchStrings(it.p.Holders, c.Node)
			if i == len(it.p.Holders) || it.p.Holders[i] != c.Node {
				changed = append(changed, it.p)
			}
		}
		return true
	})
	if len(changed) == 0 {
		// No program has that hash, or the node is listed already.
		return &Result{}
	}
	for _, old := range changed {
		p := *old // records are immutable once in a view
		p.Holders = sortedSet(append(append([]string(nil), old.Holders...), c.Node))
		p.ModifyIndex = a.index
		a.s.programs.ReplaceOrInsert(progItem{name: p.Name, p: &p})
	}
	return &Result{}
}

// Programs returns the table's programs in name order.
func (v *View) Programs() []Program {
	out := make([]Program, 0, v.s.programs.Len())
	v.s.programs.Ascend(func(it progItem) bool {
		out = append(out, *it.p)
		return true
	})
	return out
}

// Program returns the program called name.
func (v *View) Program(name string) (Program, bool) {
	it, ok := v.s.programs.Get(progItem{name: name})
	if !ok {
		return Program{}, false
	}
	return *it.p, true
}

// ProgramByHash returns a program whose bytes have hash, the first in name
// order.
func (v *View) ProgramByHash(hash string) (Program, bool) {
	var out Program
	found := false
	v.s.programs.Ascend(func(it progItem) bool {
		if it.p.Hash == hash {
			out, found = *it.p, true
			return false
		}
		return true
	})
	return out, found
}

// Snapshot encoding of a program record (version 1).
func (e *encoder) program(p *Program) {
	e.byte(1)
	e.str(p.Name)
	e.str(p.Hash)
	e.uint(p.Size)
	e.str(p.Owner)
	e.strs(p.Holders)
	e.int(p.CreatedAt)
	e.uint(p.CreateIndex)
	e.uint(p.ModifyIndex)
}

func (d *decoder) program(p *Program) {
	d.version(1, "program")
	p.Name = d.str()
	p.Hash = d.str()
	p.Size = d.uint()
	p.Owner = d.str()
	p.Holders = d.strs()
	p.CreatedAt = d.int()
	p.CreateIndex = d.uint()
	p.ModifyIndex = d.uint()
}
