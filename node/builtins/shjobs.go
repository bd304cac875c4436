package builtins

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Jobs: the background commands of the shell, named by job specs (%N, %+,
// %%, %-, %NAME, %?TEXT) in kill, wait, jobs, fg and bg. The shell has no
// terminal, so there is no job control in bash's sense: jobs stay in the
// shell's process group, fg waits for a job in the foreground (continuing it
// first if it is stopped) and bg continues a stopped job with SIGCONT.

// jobState is what the shell last learnt of a job.
type jobState int

const (
	jobRunning jobState = iota
	jobStopped
	jobDone
)

// shJob is a background job: one child process.
type shJob struct {
	id     int
	pid    int
	cmd    string // the command, as jobs shows it
	state  jobState
	status node.WaitStatus // the last status reported, once stopped or done
}

// addJob records a background child and returns its job.
func (sh *shell) addJob(pid int, cmd string) *shJob {
	id := 1
	if n := len(sh.jobs); n > 0 {
		id = sh.jobs[n-1].id + 1
	}
	j := &shJob{id: id, pid: pid, cmd: cmd}
	sh.jobs = append(sh.jobs, j)
	return j
}

// encodeJobs writes the job table for a subshell: a line per job with its
// number, PID, state and quoted command.
func (sh *shell) encodeJobs() string {
	var b strings.Builder
	for _, j := range sh.jobs {
		fmt.Fprintf(&b, "%d %d %d %s\n", j.id, j.pid, j.state, strconv.Quote(j.cmd))
	}
	return b.String()
}

// decodeJobs reads the job table encodeJobs wrote; a line it can't read
// is left out.
func (sh *shell) decodeJobs(list string) {
	for _, line := range strings.Split(list, "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			continue
		}
		id, err1 := strconv.Atoi(f[0])
		pid, err2 := strconv.Atoi(f[1])
		state, err3 := strconv.Atoi(f[2])
		cmd, err4 := strconv.Unquote(f[3])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || state < 0 || state > int(jobDone) {
			continue
		}
		sh.jobs = append(sh.jobs, &shJob{id: id, pid: pid, cmd: cmd, state: jobState(state)})
	}
}

// jobByPID returns the job of a child, or nil.
func (sh *shell) jobByPID(pid int) *shJob {
	for _, j := range sh.jobs {
		if j.pid == pid {
			return j
		}
	}
	return nil
}

// removeJob forgets a job.
func (sh *shell) removeJob(j *shJob) {
	for i, x := range sh.jobs {
		if x == j {
			sh.jobs = append(sh.jobs[:i], sh.jobs[i+1:]...)
			return
		}
	}
}

// current returns the current job (%+) and the previous one (%-): the
// newest stopped job, else the newest job; then the next in that order.
func (sh *shell) current() (cur, prev *shJob) {
	var order []*shJob
	for i := len(sh.jobs) - 1; i >= 0; i-- {
		if sh.jobs[i].state == jobStopped {
			order = append(order, sh.jobs[i])
		}
	}
	for i := len(sh.jobs) - 1; i >= 0; i-- {
		if sh.jobs[i].state != jobStopped {
			order = append(order, sh.jobs[i])
		}
	}
	if len(order) > 0 {
		cur = order[0]
	}
	if len(order) > 1 {
		prev = order[1]
	}
	return cur, prev
}

// errNoJob is a job spec that names no job.
var errNoJob = errors.New("no such job")

// findJob resolves a job spec.
func (sh *shell) findJob(spec string) (*shJob, error) {
	s := strings.TrimPrefix(spec, "%")
	cur, prev := sh.current()
	var j *shJob
	switch {
	case s == "" || s == "%" || s == "+":
		j = cur
	case s == "-":
		j = prev
	case allDigitsStr(s):
		n, _ := strconv.Atoi(s)
		for _, x := range sh.jobs {
			if x.id == n {
				j = x
			}
		}
	case strings.HasPrefix(s, "?"):
		for _, x := range sh.jobs {
			if strings.Contains(x.cmd, s[1:]) {
				if j != nil {
					return nil, fmt.Errorf("%s: ambiguous job spec", spec)
				}
				j = x
			}
		}
	default:
		for _, x := range sh.jobs {
			if strings.HasPrefix(x.cmd, s) {
				if j != nil {
					return nil, fmt.Errorf("%s: ambiguous job spec", spec)
				}
				j = x
			}
		}
	}
	if j == nil {
		return nil, fmt.Errorf("%s: %w", spec, errNoJob)
	}
	return j, nil
}

// pollJobs learns, without blocking, which jobs have stopped, continued or
// ended since the last look.
func (sh *shell) pollJobs() {
	for _, j := range sh.jobs {
		if j.state == jobDone {
			continue
		}
		for {
			pid, ws, err := sh.s.Wait4(j.pid, node.WNOHANG|node.WUNTRACED|node.WCONTINUED)
			if err != nil || pid == 0 {
				break
			}
			sh.noteStatus(j, ws)
			if j.state == jobDone {
				break
			}
		}
	}
}

// cleanJobs forgets the jobs that have ended; their statuses stay for wait
// PID.
func (sh *shell) cleanJobs() {
	live := sh.jobs[:0]
	for _, j := range sh.jobs {
		if j.state != jobDone {
			live = append(live, j)
		}
	}
	clear(sh.jobs[len(live):])
	sh.jobs = live
}

// noteStatus records a status a wait returned for job j.
func (sh *shell) noteStatus(j *shJob, ws node.WaitStatus) {
	switch {
	case ws.Stopped():
		j.state, j.status = jobStopped, ws
	case ws.Continued():
		j.state = jobRunning
	default:
		j.state, j.status = jobDone, ws
		sh.remember(j.pid, ws.Code())
		if ws.Signaled() {
			sh.reportDeath(j.pid, ws, j.cmd, true)
		}
	}
}

// reportDeath tells on standard error that a command died of a signal, as
// a bash without job control does: not for SIGINT or SIGPIPE, nor for
// SIGTERM in the background; in the foreground, SIGTERM or a signal the
// shell traps is reported by its name alone.
func (sh *shell) reportDeath(pid int, ws node.WaitStatus, cmd string, background bool) {
	sig := ws.Signal()
	_, trapped := sh.traps[strings.TrimPrefix(sig.String(), "SIG")]
	switch {
	case sig == ipc.SIGINT || sig == ipc.SIGPIPE:
	case sig == ipc.SIGTERM && background:
	case !background && (sig == ipc.SIGTERM || trapped):
		sh.write(2, sigName(sig)+"\n")
	default:
		name := sigName(sig)
		if ws.CoreDump() {
			name += " (core dumped)"
		}
		sh.errorf("%5d %-24s%s", pid, name, cmd)
	}
}

// maxReaped bounds how many statuses of reaped background children the
// shell keeps for a later wait PID, as bash bounds its list.
const maxReaped = 1024

// remember keeps the status of a reaped background child.
func (sh *shell) remember(pid, status int) {
	if _, ok := sh.reaped[pid]; !ok {
		sh.reapedOrder = append(sh.reapedOrder, pid)
	}
	sh.reaped[pid] = status
	for len(sh.reapedOrder) > maxReaped {
		delete(sh.reaped, sh.reapedOrder[0])
		sh.reapedOrder = sh.reapedOrder[1:]
	}
}

// stateText is a job's state as jobs shows it.
func (j *shJob) stateText() string {
	switch j.state {
	case jobStopped:
		return sigName(j.status.StopSignal())
	case jobDone:
		switch {
		case j.status.Signaled():
			return sigName(j.status.Signal())
		case j.status.ExitStatus() != 0:
			return "Exit " + strconv.Itoa(j.status.ExitStatus())
		}
		return "Done"
	}
	return "Running"
}

// builtinJobs is jobs [-lp] [JOBSPEC...]. A job shown as done is forgotten.
func (sh *shell) builtinJobs(args []string) int {
	long, pids := false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		for _, c := range args[0][1:] {
			switch c {
			case 'l':
				long = true
			case 'p':
				pids = true
			default:
				sh.errorf("jobs: -%c: invalid option", c)
				return 2
			}
		}
		args = args[1:]
	}
	sh.pollJobs()
	list := sh.jobs
	if len(args) > 0 {
		list = nil
		for _, a := range args {
			j, err := sh.findJob(a)
			if err != nil {
				sh.errorf("jobs: %v", err)
				return 1
			}
			list = append(list, j)
		}
	}
	cur, prev := sh.current()
	var b strings.Builder
	var done []*shJob
	for _, j := range list {
		if pids {
			fmt.Fprintf(&b, "%d\n", j.pid)
			continue
		}
		mark := ' '
		switch j {
		case cur:
			mark = '+'
		case prev:
			mark = '-'
		}
		cmd := j.cmd
		if j.state != jobDone {
			cmd += " &"
		}
		if long {
			fmt.Fprintf(&b, "[%d]%c %d %-24s%s\n", j.id, mark, j.pid, j.stateText(), cmd)
		} else {
			fmt.Fprintf(&b, "[%d]%c  %-24s%s\n", j.id, mark, j.stateText(), cmd)
		}
		if j.state == jobDone {
			done = append(done, j)
		}
	}
	for _, j := range done {
		sh.removeJob(j)
	}
	return sh.output(b.String())
}

// builtinFgBg is fg [JOBSPEC] and bg [JOBSPEC...].
func (sh *shell) builtinFgBg(name string, args []string) int {
	if len(args) == 0 {
		args = []string{"%+"}
	}
	if name == "fg" {
		args = args[:1]
	}
	sh.pollJobs()
	status := 0
	for _, a := range args {
		j, err := sh.findJob(a)
		if err != nil {
			if errors.Is(err, errNoJob) && len(sh.jobs) == 0 {
				err = errors.New("current: no such job")
			}
			sh.errorf("%s: %v", name, err)
			status = 1
			continue
		}
		if j.state == jobDone {
			sh.errorf("%s: job has terminated", name)
			status = 1
			continue
		}
		// A stop may not have been reported yet: the job is continued
		// whatever its state looks like.
		if err := sh.s.Kill(j.pid, ipc.SIGCONT); err != nil {
			sh.errorf("%s: %s", name, killErrText(err))
			status = 1
			continue
		}
		j.state = jobRunning
		if name == "bg" {
			sh.output(fmt.Sprintf("[%d]+ %s &\n", j.id, j.cmd))
			continue
		}
		sh.output(j.cmd + "\n")
		status = sh.waitJob(j, true)
		if j.state == jobDone {
			sh.removeJob(j)
		}
	}
	return status
}

// waitJob waits for job j to end (or to stop, when stops count) and returns
// its status as $? shows it; a trapped signal cuts the wait short.
func (sh *shell) waitJob(j *shJob, stops bool) int {
	if j.state == jobDone {
		return j.status.Code()
	}
	opts := 0
	if stops {
		opts = node.WUNTRACED
	}
	for {
		pid, ws, err := sh.s.Wait4(j.pid, opts)
		switch {
		case err == nil && pid == j.pid:
			sh.noteStatus(j, ws)
			if j.state == jobDone || (stops && j.state == jobStopped) {
				return ws.Code()
			}
		case errors.Is(err, ipc.EINTR):
			if len(sh.caught) > 0 {
				return sh.signalStatus()
			}
		default:
			if st, ok := sh.reaped[j.pid]; ok {
				return st
			}
			return 127
		}
	}
}

// builtinWait is wait [-n] [PID|JOBSPEC...]: with no operand it waits for
// every child and returns 0; -n waits for the next job to end.
func (sh *shell) builtinWait(args []string) int {
	next := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		if args[0] == "--" {
			args = args[1:]
			break
		}
		if args[0] != "-n" {
			sh.errorf("wait: %s: invalid option", args[0])
			return 2
		}
		next, args = true, args[1:]
	}
	if next {
		return sh.waitNext(args)
	}
	if len(args) == 0 {
		for {
			pid, ws, err := sh.s.Wait4(-1, 0)
			if errors.Is(err, ipc.EINTR) {
				if len(sh.caught) > 0 {
					return sh.signalStatus()
				}
				continue
			}
			if err != nil {
				break
			}
			if j := sh.jobByPID(pid); j != nil {
				sh.noteStatus(j, ws)
				sh.removeJob(j)
			}
		}
		sh.jobs = nil
		return 0
	}
	status := 0
	for _, a := range args {
		status = sh.waitOne(a)
		if len(sh.caught) > 0 && status > 128 {
			return status
		}
	}
	return status
}

// waitOne waits for one PID or job spec.
func (sh *shell) waitOne(a string) int {
	var j *shJob
	if strings.HasPrefix(a, "%") {
		var err error
		if j, err = sh.findJob(a); err != nil {
			sh.errorf("wait: %v", err)
			return 127
		}
	} else {
		pid, err := strconv.Atoi(a)
		if err != nil || pid <= 0 {
			sh.errorf("wait: `%s': not a pid or valid job spec", a)
			return 2
		}
		if j = sh.jobByPID(pid); j == nil {
			if st, ok := sh.reaped[pid]; ok {
				return st
			}
			j = &shJob{pid: pid}
		}
	}
	status := sh.waitJob(j, false)
	if j.state == jobDone {
		sh.removeJob(j)
	} else if status == 127 {
		sh.errorf("wait: pid %d is not a child of this shell", j.pid)
	}
	return status
}

// waitNext is wait -n: it waits for the next of the given jobs (any job if
// none) to end and returns its status; 127 if there is none.
func (sh *shell) waitNext(args []string) int {
	want := map[int]bool{}
	for _, a := range args {
		if strings.HasPrefix(a, "%") {
			j, err := sh.findJob(a)
			if err != nil {
				sh.errorf("wait: %v", err)
				continue
			}
			want[j.pid] = true
		} else if pid, err := strconv.Atoi(a); err == nil {
			want[pid] = true
		}
	}
	sh.pollJobs()
	for _, j := range sh.jobs {
		if j.state == jobDone && (len(want) == 0 || want[j.pid]) {
			sh.removeJob(j)
			return j.status.Code()
		}
	}
	for {
		pid, ws, err := sh.s.Wait4(-1, 0)
		if errors.Is(err, ipc.EINTR) {
			if len(sh.caught) > 0 {
				return sh.signalStatus()
			}
			continue
		}
		if err != nil {
			return 127
		}
		j := sh.jobByPID(pid)
		if j == nil {
			sh.remember(pid, ws.Code())
			continue
		}
		sh.noteStatus(j, ws)
		if len(want) == 0 || want[pid] {
			sh.removeJob(j)
			return ws.Code()
		}
	}
}

// builtinKill is kill with job specs.
func (sh *shell) builtinKill(args []string) int {
	c, err := parseKill(args)
	if err == errKillUsage {
		sh.write(2, "kill: "+killUsage+"\n")
		return 2
	}
	if err != nil {
		sh.errorf("kill: %v", err)
		return 1
	}
	if c.list {
		out, err := killList(c.targets)
		st := sh.output(out)
		if err != nil {
			sh.errorf("kill: %v", err)
			return 1
		}
		return st
	}
	sent := false // as bash's: true if any target got the signal
	for _, a := range c.targets {
		var pid int
		if strings.HasPrefix(a, "%") {
			j, err := sh.findJob(a)
			if err != nil {
				sh.errorf("kill: %v", err)
				continue
			}
			if j.state == jobDone {
				sh.errorf("kill: %s: job has terminated", a)
				continue
			}
			pid = j.pid
		} else if pid, err = strconv.Atoi(a); err != nil {
			sh.errorf("kill: %s: arguments must be process or job IDs", a)
			continue
		}
		if err := sh.s.Kill(pid, c.sig); err != nil {
			sh.errorf("kill: (%d) - %s", pid, killErrText(err))
			continue
		}
		sent = true
	}
	return boolStatus(sent)
}
