package baton_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/packages/go/baton"
	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

type echoIn struct {
	Name    string         `json:"name"`
	Big     int64          `json:"big"`
	Missing *string        `json:"missing"`
	Nested  map[string]any `json:"nested"`
	Raw     any            `json:"raw"`
}

type echoOut struct {
	Greeting string         `json:"greeting"`
	Big      int64          `json:"big"`
	Missing  *string        `json:"missing"`
	Nested   map[string]any `json:"nested"`
	Raw      any            `json:"raw"`
}

func TestInputDecodesIntoStructAndOutputEncodesExactly(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	decoded := make(chan echoIn, 1)
	baton.Handle(w, "echo", func(ctx context.Context, in echoIn) (echoOut, error) {
		decoded <- in
		return echoOut{Greeting: "Grüße, " + in.Name + " <&>", Big: in.Big, Missing: in.Missing, Nested: in.Nested, Raw: in.Raw}, nil
	})
	runWorker(t, w)

	input := `{"name":"Zoë 🎉 日本","big":9007199254740993,"missing":null,` +
		`"nested":{"list":[1,null,{"deep":"ü"}],"n":-0.5,"huge":123456789012345678901234567890},` +
		`"raw":9007199254740993}`
	f.enqueue("echo", input)
	in := recv(t, decoded, "the handler")
	if in.Name != "Zoë 🎉 日本" || in.Big != 9007199254740993 || in.Missing != nil {
		t.Errorf("decoded %+v", in)
	}
	if n, ok := in.Raw.(json.Number); !ok || n.String() != "9007199254740993" {
		t.Errorf("raw = %#v, want json.Number 9007199254740993", in.Raw)
	}

	r := recv(t, f.results, "the result")
	if r.GetStatus() != batonv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Fatalf("status %v: %s", r.GetStatus(), r.GetReasonForIncompletion())
	}
	out := r.GetOutputJson()
	for _, want := range []string{
		`"greeting":"Grüße, Zoë 🎉 日本 <&>"`,
		`"big":9007199254740993`,
		`"raw":9007199254740993`,
		`"missing":null`,
		`"huge":123456789012345678901234567890`,
		`"list":[1,null,{"deep":"ü"}]`,
		`"n":-0.5`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output %s lacks %s", out, want)
		}
	}
	// And it is the same document as what went in, number for number.
	var gotDoc, wantDoc map[string]any
	mustDecode(t, out, &gotDoc)
	mustDecode(t, input, &wantDoc)
	delete(gotDoc, "greeting")
	delete(wantDoc, "name")
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Errorf("round trip changed the document:\n got %v\nwant %v", gotDoc, wantDoc)
	}
}

func mustDecode(t *testing.T, text string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", text, err)
	}
}
