package baton

import (
	"context"
	"testing"
)

func TestBearerMetadata(t *testing.T) {
	md, err := bearer("bk_abc_secret").GetRequestMetadata(context.Background())
	if err != nil || md["authorization"] != "Bearer bk_abc_secret" {
		t.Fatalf("got %v, %v", md, err)
	}
	if md, _ := bearer("").GetRequestMetadata(context.Background()); md != nil {
		t.Fatalf("an empty token must send nothing, got %v", md)
	}
}
