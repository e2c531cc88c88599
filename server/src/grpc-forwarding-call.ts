// What a server interceptor returns: a call that hands everything on to the
// call beneath it (grpc-js's own, or another interceptor's). The budgets'
// interceptors extend it and override what they watch.
import type * as grpc from "@grpc/grpc-js";

export type Next = grpc.ServerInterceptingCallInterface;
export type Listener = Parameters<Next["start"]>[0];

export class ForwardingCall implements Next {
  constructor(protected readonly next: Next) {}

  start(listener: Listener): void {
    this.next.start(listener);
  }
  sendMessage(message: unknown, callback: () => void): void {
    this.next.sendMessage(message, callback);
  }
  sendStatus(status: Parameters<Next["sendStatus"]>[0]): void {
    this.next.sendStatus(status);
  }
  sendMetadata(metadata: grpc.Metadata): void {
    this.next.sendMetadata(metadata);
  }
  startRead(): void {
    this.next.startRead();
  }
  getPeer(): string {
    return this.next.getPeer();
  }
  getDeadline(): grpc.Deadline {
    return this.next.getDeadline();
  }
  getHost(): string {
    return this.next.getHost();
  }
  getAuthContext(): ReturnType<Next["getAuthContext"]> {
    return this.next.getAuthContext();
  }
  getConnectionInfo(): ReturnType<Next["getConnectionInfo"]> {
    return this.next.getConnectionInfo();
  }
  getMetricsRecorder(): ReturnType<Next["getMetricsRecorder"]> {
    return this.next.getMetricsRecorder();
  }
}
