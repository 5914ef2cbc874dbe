package sweep

import (
	"context"
	"sync"
)

// work is one item for a slot: a run of the plan to claim and train, or a paused run a scheduler
// promoted, to resume from its checkpoint.
type work struct {
	index    int // into the runs the process trains
	promoted bool
}

// queue hands the slots their work. It ends when it is empty and no slot is busy, since a busy
// slot's run may still end in promotions that refill it.
type queue struct {
	mu    sync.Mutex
	wake  chan struct{} // closed and replaced whenever the queue changes
	items []work
	busy  int
}

func newQueue(items []work) *queue { return &queue{items: items, wake: make(chan struct{})} }

// next blocks for the next item, which it takes with up to size-1 queued items of its key (nextGroup);
// ok is false when the work is done or ctx is. A group is one busy item.
func (q *queue) next(ctx context.Context, size int, key func(work) string) (group []work, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			group, q.items = nextGroup(q.items, size, key)
			q.busy++
			q.mu.Unlock()
			return group, true
		}
		if q.busy == 0 {
			q.mu.Unlock()
			return nil, false
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// done ends a slot's item; promotions go before the runs not yet started, as ASHA gives them.
func (q *queue) done(promoted ...work) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.busy--
	q.items = append(promoted, q.items...)
	close(q.wake)
	q.wake = make(chan struct{})
}

// take removes up to n queued items whose key is k, in their order, for a slot whose group lost runs
// to their claims: they join that slot's busy item.
func (q *queue) take(k string, n int, key func(work) string) []work {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken, rest := sameKey(q.items, k, n, key)
	q.items = rest
	return taken
}
