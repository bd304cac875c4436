package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
)

// The named IPC objects: vproc mq, vproc fifo, vproc shm.

func newMQCmd(e *env, g *globals) *cobra.Command {
	var (
		nodeName        string
		mode            string
		maxMsg, msgSize int64
		prio            uint
		nonblock        bool
		timeout         time.Duration
	)
	create := &cobra.Command{
		Use:   "create [--node N] [--maxmsg M] [--msgsize S] [--mode 0600] NAME",
		Short: "Create a message queue, on the answering node or on --node",
		Args:  exactArgs(1, "one queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMode(cmd, mode)
			if err != nil {
				return err
			}
			if err := checkQueueName(cmd, args[0]); err != nil {
				return err
			}
			if maxMsg < 0 || maxMsg > ipc.MaxMsgLimit {
				return usagef(cmd, "bad --maxmsg %d: a queue holds 1 to %d messages (0: the default, %d)", maxMsg, ipc.MaxMsgLimit, ipc.DefaultMaxMsg)
			}
			if msgSize < 0 || msgSize > ipc.MsgSizeLimit {
				return usagef(cmd, "bad --msgsize %d: a message is 1 to %d bytes long (0: the default, %d)", msgSize, ipc.MsgSizeLimit, ipc.DefaultMsgSize)
			}
			return action("mq create", func(ctx context.Context, c *client.Client) error {
				return c.MQCreate(ctx, api.MQCreateRequest{Name: args[0], Node: nodeName, Mode: m, MaxMsg: maxMsg, MsgSize: msgSize})
			}).run(cmd, e, g)
		},
	}
	create.Flags().StringVar(&nodeName, "node", "", "the node that holds the queue")
	create.Flags().StringVar(&mode, "mode", "0600", "permission bits, in octal")
	create.Flags().Int64Var(&maxMsg, "maxmsg", 0, "the most messages the queue holds (default 10)")
	create.Flags().Int64Var(&msgSize, "msgsize", 0, "the longest message in bytes (default 8192)")

	send := &cobra.Command{
		Use:   "send [-p PRIO] [--nonblock] [--timeout D] NAME MESSAGE",
		Short: "Send one message, blocking while the queue is full",
		Args:  exactArgs(2, "a queue name and a message"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkQueueName(cmd, args[0]); err != nil {
				return err
			}
			if prio >= ipc.MQPrioMax {
				return usagef(cmd, "bad --priority %d: message priorities run from 0 to %d", prio, ipc.MQPrioMax-1)
			}
			t, err := mqTimeout(cmd, timeout)
			if err != nil {
				return err
			}
			return action("mq send", func(ctx context.Context, c *client.Client) error {
				return c.MQSend(ctx, api.MQSendRequest{Name: args[0], Message: []byte(args[1]), Priority: prio, NonBlock: nonblock, Timeout: t})
			}).run(cmd, e, g)
		},
	}
	send.Flags().UintVarP(&prio, "priority", "p", 0, fmt.Sprintf("the message's priority, 0 to %d (higher is received first)", ipc.MQPrioMax-1))
	recv := &cobra.Command{
		Use:   "recv [--nonblock] [--timeout D] NAME",
		Short: "Receive the oldest message of the highest priority and print it",
		Args:  exactArgs(1, "one queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkQueueName(cmd, args[0]); err != nil {
				return err
			}
			t, err := mqTimeout(cmd, timeout)
			if err != nil {
				return err
			}
			return verb[api.MQMessage]{
				name: "mq recv",
				call: func(ctx context.Context, c *client.Client) (api.MQMessage, error) {
					return c.MQRecv(ctx, api.MQRecvRequest{Name: args[0], NonBlock: nonblock, Timeout: t})
				},
				print: func(w io.Writer, m api.MQMessage) error {
					_, err := fmt.Fprintf(w, "%s\n", m.Message)
					return err
				},
			}.run(cmd, e, g)
		},
	}
	for _, c := range []*cobra.Command{send, recv} {
		c.Flags().BoolVar(&nonblock, "nonblock", false, "fail with EAGAIN instead of blocking")
		c.Flags().DurationVar(&timeout, "timeout", 0, "give up with ETIMEDOUT after this long, such as 500ms or 2s (default: wait as long as it takes)")
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Unlink a message queue, wherever it lives",
		Args:  exactArgs(1, "one queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkQueueName(cmd, args[0]); err != nil {
				return err
			}
			return action("mq rm", func(ctx context.Context, c *client.Client) error { return c.MQUnlink(ctx, args[0]) }).run(cmd, e, g)
		},
	}
	return group("mq", "Message queues: create, send, recv, ls, rm", create, send, recv, newIPCListCmd(e, g, "mq"), rm)
}

func newFIFOCmd(e *env, g *globals) *cobra.Command {
	var nodeName, mode string
	create := &cobra.Command{
		Use:   "create [--node N] [--mode 0644] PATH",
		Short: "Make a FIFO, on the answering node or on --node",
		Args:  exactArgs(1, "one absolute path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMode(cmd, mode)
			if err != nil {
				return err
			}
			if err := checkFIFOPath(cmd, args[0]); err != nil {
				return err
			}
			return action("fifo create", func(ctx context.Context, c *client.Client) error {
				return c.FIFOCreate(ctx, api.FIFOCreateRequest{Path: args[0], Node: nodeName, Mode: m})
			}).run(cmd, e, g)
		},
	}
	create.Flags().StringVar(&nodeName, "node", "", "the node that holds the FIFO")
	create.Flags().StringVar(&mode, "mode", "0644", "permission bits, in octal")
	rm := &cobra.Command{
		Use:   "rm PATH",
		Short: "Remove a FIFO, wherever it lives",
		Args:  exactArgs(1, "one path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFIFOPath(cmd, args[0]); err != nil {
				return err
			}
			return action("fifo rm", func(ctx context.Context, c *client.Client) error { return c.FIFORemove(ctx, args[0]) }).run(cmd, e, g)
		},
	}
	return group("fifo", "Named pipes: create, ls, rm", create, newIPCListCmd(e, g, "fifo"), rm)
}

func newShmCmd(e *env, g *globals) *cobra.Command {
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Unlink a shared-memory segment, wherever it lives",
		Args:  exactArgs(1, "one segment name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ipc.CheckName(args[0]); err != nil {
				return usagef(cmd, "bad segment name %q: %s", args[0], nameRule)
			}
			return action("shm rm", func(ctx context.Context, c *client.Client) error { return c.ShmUnlink(ctx, args[0]) }).run(cmd, e, g)
		},
	}
	return group("shm", "Shared-memory segments: ls, rm", newIPCListCmd(e, g, "shm"), rm)
}

func newIPCListCmd(e *env, g *globals, kind string) *cobra.Command {
	var (
		stale  bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "ls [-o json]",
		Short: "List the names with the node that holds each, its attributes, and lost when that node is gone",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[[]api.IPCObject]{
				name:   kind + " ls",
				output: &output,
				call: func(ctx context.Context, c *client.Client) ([]api.IPCObject, error) {
					list, err := c.IPCList(ctx, kind, client.ReadOpts{Stale: stale})
					return list.Objects, err
				},
				print: func(w io.Writer, objs []api.IPCObject) error { return ipcTable(w, kind, objs) },
			}.run(cmd, e, g)
		},
	}
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering node's own state, which may lag")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

func ipcTable(w io.Writer, kind string, objs []api.IPCObject) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	head := "NAME\tNODE\tOWNER\tMODE\tSTATE"
	if kind == "mq" {
		head = "NAME\tNODE\tOWNER\tMODE\tMAXMSG\tMSGSIZE\tSTATE"
	}
	fmt.Fprintln(tw, head)
	for _, o := range objs {
		state := "ok"
		if o.Lost {
			state = "lost"
		}
		cols := []string{o.Name, o.Node, o.Owner, fmt.Sprintf("%04o", o.Mode)}
		if kind == "mq" {
			cols = append(cols, strconv.FormatInt(o.MaxMsg, 10), strconv.FormatInt(o.MsgSize, 10))
		}
		fmt.Fprintln(tw, strings.Join(append(cols, state), "\t"))
	}
	return tw.Flush()
}

func parseMode(cmd *cobra.Command, s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, usagef(cmd, "--mode %q: want octal permission bits such as 0600", s)
	}
	return uint32(m), nil
}

// nameRule says what a queue or segment name must look like
// (mq_overview(7)).
var nameRule = fmt.Sprintf("want a name such as /jobs: one leading slash, no other, at most %d bytes after it", ipc.NameMax)

// checkQueueName refuses a queue name that mq_open(3) would refuse, saying
// why.
func checkQueueName(cmd *cobra.Command, name string) error {
	if ipc.CheckName(name) != nil {
		return usagef(cmd, "bad queue name %q: %s", name, nameRule)
	}
	return nil
}

// checkFIFOPath refuses a FIFO path that is not absolute in the cluster's
// namespace.
func checkFIFOPath(cmd *cobra.Command, path string) error {
	if !strings.HasPrefix(path, "/") || strings.ContainsRune(path, 0) || ipc.CleanName(path) == "/" {
		return usagef(cmd, "bad FIFO path %q: want an absolute path such as /run/jobs", path)
	}
	return nil
}

// mqTimeout returns the timeout of mq send or recv as the API takes it:
// "" for none (the flag left out), a duration otherwise; 0 gives up at
// once when the call would block.
func mqTimeout(cmd *cobra.Command, d time.Duration) (string, error) {
	if !cmd.Flags().Changed("timeout") {
		return "", nil
	}
	if d < 0 {
		return "", usagef(cmd, "bad --timeout %v: want a duration of 0 or more, such as 2s", d)
	}
	return d.String(), nil
}
