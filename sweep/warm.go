package sweep

import "context"

// The first slot's worker is started by New, before it reads the data, so that the worker loads
// TensorFlow (about 0.1 s) while the front reads and checks the data; Run hands it to its first
// slot. Its context is its own until Run links it to Run's, so that a cancelled Run stops it as it
// stops the workers it starts.

// startWarm starts the first slot's worker, with the environment that slot gives its workers, or
// returns nil if it cannot: the slot then starts one as it starts any, and reports why it failed.
func (s *Sweep) startWarm() *worker {
	w, err := s.startWorker(context.Background(), 0)
	if err != nil {
		return nil
	}
	return w
}

// Close stops the worker New started for the first slot, unless Run took it. A Sweep that New
// returned and that is not Run must be closed; after Run, Close does nothing.
func (s *Sweep) Close() {
	s.warm.Swap(nil).kill()
}

// kill ends a worker that has been given no run, and waits for it.
func (w *worker) kill() {
	if w == nil {
		return
	}
	// It has taken no job, so nothing of it is lost: no SIGTERM and grace, as for a run.
	_ = w.cmd.Process.Kill()
	w.close()
}

// exited tells whether the worker process has exited.
func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}
