package baton

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
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

// A key is not sent in plaintext beyond loopback unless BATON_ALLOW_PLAINTEXT_TOKEN=1 (issue 14, point 8).
func TestBearerRefusesPlaintextBeyondLoopback(t *testing.T) {
	t.Setenv("BATON_ALLOW_PLAINTEXT_TOKEN", "")
	client, server := net.Pipe()
	defer server.Close()
	_, info, err := insecure.NewCredentials().ClientHandshake(context.Background(), "x", client)
	if err != nil {
		t.Fatal(err)
	}
	ctx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{AuthInfo: info})
	b := bearer("bk_abc_secret")
	for _, host := range []string{"10.1.2.3:7233", "baton.example.com:7233", "[2001:db8::1]:7233"} {
		md, err := b.GetRequestMetadata(ctx, "https://"+host+"/baton.v1.TaskService")
		if err == nil || md != nil || !strings.Contains(err.Error(), "refusing to send an API key in plaintext") {
			t.Fatalf("%s: got %v, %v", host, md, err)
		}
	}
	for _, host := range []string{"127.0.0.1:7233", "localhost:7233", "[::1]:7233"} {
		if md, err := b.GetRequestMetadata(ctx, "https://"+host+"/baton.v1.TaskService"); err != nil || md["authorization"] == "" {
			t.Fatalf("%s: got %v, %v", host, md, err)
		}
	}
	t.Setenv("BATON_ALLOW_PLAINTEXT_TOKEN", "1")
	if md, err := b.GetRequestMetadata(ctx, "https://10.1.2.3:7233/baton.v1.TaskService"); err != nil || md["authorization"] == "" {
		t.Fatalf("opted in: got %v, %v", md, err)
	}
}
