package store

import (
	"context"
	"fmt"
)

// Live map updates travel on one sharded pub/sub channel (SPUBLISH/SSUBSCRIBE): on a Cluster a
// message stays on the channel's shard instead of being broadcast to every node, and on one
// server it behaves like PUBLISH.

// PublishLive sends a live update to every instance's browsers.
func (s *Store) PublishLive(ctx context.Context, payload string) error {
	if err := s.rdb.SPublish(ctx, eventsChannel, payload).Err(); err != nil {
		return fmt.Errorf("store: unable to publish a live update: %w", err)
	}
	return nil
}

// LiveUpdates subscribes to live updates from every instance. go-redis resubscribes by itself
// after a dropped connection, a Redis restart or a failover. The channel closes when ctx ends.
func (s *Store) LiveUpdates(ctx context.Context) <-chan string {
	ps := s.rdb.SSubscribe(ctx, eventsChannel)
	out := make(chan string, 256)
	go func() {
		defer close(out)
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default: // the hub is stuck: drop rather than block Redis reads
				}
			}
		}
	}()
	return out
}
