// Package queue provides the sidecar's bounded queues: a byte Budget shared
// by every queue, and a FIFO Queue whose entries, and whatever state its
// pipeline holds outside it (Hold), are charged to the budget.
//
// Every queue made with New on a Budget is a share of it: with n queues
// each is entitled to Limit/n bytes. A queue may use more while the rest
// is free. When the budget is full, a queue under its share takes room
// back from the queue furthest over its own, dropping that queue's oldest
// entries; a queue over its share can only drop its own oldest entries.
// So one pipeline whose backend is down (its retried entries filling the
// budget) never stops another: the other can always get its share. Every
// drop is reported to the owning queue's onDrop, which counts it.
//
// Nothing in the sidecar queues data outside these, so its memory for
// telemetry waiting to be sent is bounded by the budget.
package queue
