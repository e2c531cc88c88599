package baton

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeJSON decodes a JSON payload field into v. An empty field means "no
// payload" and leaves v at its zero value. UseNumber keeps numbers that land
// in interface values exact (a float64 would round 9007199254740993).
func decodeJSON(text string, v any) error {
	if text == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// encodeJSON renders v for a JSON payload field: nil gives "" (no payload),
// and <, > and & stay as they are instead of becoming \u003c escapes.
func encodeJSON(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	switch raw := v.(type) {
	case json.RawMessage:
		if len(raw) == 0 {
			return "", nil
		}
		if !json.Valid(raw) {
			return "", errors.New("invalid json.RawMessage")
		}
		return string(raw), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimRight(buf.Bytes(), "\n")), nil
}
