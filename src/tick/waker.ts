/**
 * Sleeps on a Node timer (precise to about a millisecond, unlike a blocking Redis command whose timeout
 * is only as fine as the server's `hz`) and wakes early when a producer publishes on the wake channel.
 */
import type { RedisClient } from '../redis/connection.js';

export class Waker {
  readonly #redis: RedisClient;
  readonly #channel: string;
  #subscriber: RedisClient | undefined;
  #resolve: (() => void) | undefined;
  #pending = false;

  constructor(redis: RedisClient, channel: string) {
    this.#redis = redis;
    this.#channel = channel;
  }

  async start(): Promise<void> {
    const subscriber = this.#redis.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', () => this.wake());
    await subscriber.subscribe(this.#channel);
  }

  /** Wakes the current sleep, or makes the next one return at once. */
  wake(): void {
    if (this.#resolve) {
      const resolve = this.#resolve;
      this.#resolve = undefined;
      resolve();
    } else {
      this.#pending = true;
    }
  }

  async sleepUntil(target: number, now: () => number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return;
    }
    const delay = target - now();
    if (delay <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#resolve = undefined;
        resolve();
      }, delay);
      this.#resolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.wake();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber) {
      subscriber.disconnect();
    }
  }
}
