package service

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// ConnLimit caps a server's open connections (http.Server.ConnState = Track). At the cap a new
// connection closes the one idle longest, one that has sent no request yet or waits between
// requests, so that idle connections cannot lock out a client that has something to ask; when every
// connection is busy, the new one is closed.
type ConnLimit struct {
	max   int
	mu    sync.Mutex
	conns map[net.Conn]connState
}

type connState struct {
	idle  bool
	since time.Time
}

// NewConnLimit allows max connections at once.
func NewConnLimit(max int) *ConnLimit {
	return &ConnLimit{max: max, conns: map[net.Conn]connState{}}
}

// Track follows a connection's state, as http.Server.ConnState.
func (l *ConnLimit) Track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	var evict net.Conn
	switch state {
	case http.StateNew:
		if len(l.conns) >= l.max {
			evict = l.longestIdle()
			if evict == nil {
				evict = c
			} else {
				delete(l.conns, evict)
			}
		}
		if evict != c {
			l.conns[c] = connState{idle: true, since: time.Now()}
		}
	case http.StateActive:
		if _, ok := l.conns[c]; ok {
			l.conns[c] = connState{}
		}
	case http.StateIdle:
		if _, ok := l.conns[c]; ok {
			l.conns[c] = connState{idle: true, since: time.Now()}
		}
	case http.StateHijacked, http.StateClosed:
		delete(l.conns, c)
	}
	l.mu.Unlock()
	if evict != nil {
		evict.Close() // outside the lock: the server then reports it closed
	}
}

func (l *ConnLimit) longestIdle() net.Conn {
	var oldest net.Conn
	var since time.Time
	for c, s := range l.conns {
		if s.idle && (oldest == nil || s.since.Before(since)) {
			oldest, since = c, s.since
		}
	}
	return oldest
}

// Open is the number of connections tracked.
func (l *ConnLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
