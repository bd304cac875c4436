package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/client"
)

// verb is the skeleton of a client verb that makes one call and prints its
// answer. Its run checks -o, builds the client from the flags and the
// environment, makes the call with the command's context, prints the answer
// as a table (or a line) or as JSON, and turns a failure of the call into
// one line that names the verb. report then prints that line and picks the
// exit code, as for every other error of a verb.
type verb[T any] struct {
	// name names the verb in its errors: "ps", "mq create".
	name string
	// output points at the -o flag's value; nil for a verb without -o.
	output *string
	// call makes the request.
	call func(ctx context.Context, c *client.Client) (T, error)
	// explain, if set, gives a failure of call the words of this verb
	// (such as "no such process: 42"); nil keeps "name: reason".
	explain func(err error) error
	// print writes the answer for people; nil writes nothing. Its error
	// ends the verb as it is.
	print func(w io.Writer, v T) error
	// json returns the value that -o json writes; nil writes the answer.
	json func(v T) any
	// status, if set, ends the verb after -o json wrote the answer, with
	// the error print would give for it (health exits 1 with no leader
	// whatever the format).
	status func(v T) error
}

// run is the body of cmd.
func (v verb[T]) run(cmd *cobra.Command, e *env, g *globals) error {
	if v.output != nil {
		if err := checkOutput(cmd, *v.output); err != nil {
			return err
		}
	}
	c, err := g.client(e)
	if err != nil {
		return err
	}
	defer c.Close()
	ans, err := v.call(cmd.Context(), c)
	if err != nil {
		if v.explain != nil {
			if x := v.explain(err); x != nil {
				return x
			}
		}
		return verbError(v.name, err, g.address(e))
	}
	if v.output != nil && *v.output == "json" {
		var out any = ans
		if v.json != nil {
			out = v.json(ans)
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
		if v.status != nil {
			return v.status(ans)
		}
		return nil
	}
	if v.print == nil {
		return nil
	}
	return v.print(e.stdout, ans)
}

// action is a verb whose call answers nothing to print.
func action(name string, call func(ctx context.Context, c *client.Client) error) verb[struct{}] {
	return verb[struct{}]{name: name, call: func(ctx context.Context, c *client.Client) (struct{}, error) {
		return struct{}{}, call(ctx, c)
	}}
}

// verbError is the one line a failed call of the verb name reads as:
// "name: reason", where the reason loses any leading "word: " that only
// repeats the verb, so that "spawn" never reads "spawn: spawn: ...".
func verbError(name string, err error, addr string) error {
	return fmt.Errorf("%s: %s", name, trimVerb(name, describe(err, addr)))
}

// trimVerb drops from msg the leading "head: " parts whose words are all
// words of the verb name.
func trimVerb(name, msg string) string {
	words := strings.Fields(name)
	for {
		head, rest, ok := strings.Cut(msg, ": ")
		if !ok || head == "" || rest == "" {
			return msg
		}
		for _, w := range strings.Fields(head) {
			if !slices.Contains(words, w) {
				return msg
			}
		}
		msg = rest
	}
}
