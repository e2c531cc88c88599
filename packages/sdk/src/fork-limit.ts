// A fork starts all its branches in one decision, and a decision is never
// split: one transaction, one turn of the thread that serves calls. A dynamic
// fork of 100,000 tasks held that thread for seconds, so a fork, static or
// dynamic, starts at most this many branches (Conductor sets no bound). A
// wider fan-out forks sub-workflows that each take a slice.
export const MAX_FORK_BRANCHES = 10_000;
