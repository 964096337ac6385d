/**
 * Socket reads into arenas instead of one fresh buffer per read.
 *
 * By default Node allocates a 64 KiB buffer for every read, so a frame larger
 * than that always arrives in pieces and must be copied back together, and
 * every read costs an ArrayBuffer for the garbage collector. Here each read
 * fills the free tail of a larger arena: consecutive reads are contiguous in
 * memory, the decoder merges them (FrameDecoder.push), and a frame split across
 * reads is decoded in place. When the arena cannot hold the rest of a pending
 * frame, a new one is allocated (sized for that frame if it is larger) and only
 * the bytes already received are moved; a huge frame is thus read straight
 * into a buffer of its own size.
 *
 * A body view keeps its arena alive, no longer. The decoder copies small
 * bodies out (copyBodiesBelow) so that they do not pin one. An arena is reused
 * (reads start again at its offset 0, any partial frame moved to its start)
 * only when the decoder handed out no view since the arena began
 * (FrameDecoder.viewsHandedOut), its pending bytes lie in one chunk, and it is
 * the size the policy below wants: then nothing outside the decoder holds its
 * bytes, and a connection of small messages reads through one arena instead of
 * churning 256 KiB of external memory per arena (which paced V8's GCs).
 * Otherwise a new arena is allocated and the old one lives as long as its views.
 * The first arena is small (4 KiB). An arena is replaced when its free tail is
 * under a quarter of its size (at most MIN_READ), so a quiet connection serves
 * many small reads from one arena; an arena used up within ARENA_BUSY_MS is
 * followed by one twice its size, up to ARENA_SIZE, and one that took longer by
 * one half its size: a busy connection reads 256 KiB at a time, an idle one
 * (handshake, heartbeats, close) never allocates more than its first 4 KiB.
 *
 * Client sockets take this through `net.connect({ onread })`. Node has no such
 * option for accepted sockets, so `adoptArenaReads` sets the same fields the
 * option sets, found by their symbol descriptions; when they are not there (a
 * future Node), it returns false and the caller reads 'data' events instead.
 */
import type { Socket } from 'node:net';
import type { FrameDecoder } from './decoder.js';

/** Largest arena: 4 frames of 64 KiB per arena, reads of up to 256 KiB. */
export const ARENA_SIZE = 256 * 1024;
/** A read gets at least this much room (less in the first, small arenas); a fuller arena is replaced. */
const MIN_READ = 16 * 1024;
const FIRST_ARENA_SIZE = 4 * 1024;
/** An arena used up faster than this means a busy connection: the next one is twice the size. */
const ARENA_BUSY_MS = 1000;
/** Frames at least this large make reads stop at frame boundaries (see nextBuffer). */
const LARGE_FRAME = 16 * 1024;
/** Bodies below this are copied out of the arena (see FrameDecoder): no retained body pins more than 16x its size. */
export const ARENA_COPY_BELOW = ARENA_SIZE / 16;

const EMPTY = Buffer.alloc(0);

export type ChunkHandler = (chunk: Buffer) => void;

export class ReadArena {
  private arena: Buffer = EMPTY;
  /** Start of the arena's free tail: where the next read lands. */
  private pos = 0;
  /** Size of the next arena (unless a pending frame needs more). */
  private nextSize = FIRST_ARENA_SIZE;
  /** When the current arena was allocated or reused (the clock's ms). */
  private arenaSince = 0;
  /** decoder.viewsHandedOut when the current arena began: unchanged means no view of it escaped. */
  private viewsAtArenaStart = 0;
  /** Arenas allocated / reused so far (tests and diagnostics). */
  arenasAllocated = 0;
  arenasReused = 0;

  constructor(
    private readonly decoder: FrameDecoder,
    private readonly onChunk: ChunkHandler,
    private readonly maxArenaSize = ARENA_SIZE,
    /** Milliseconds clock (tests pass a fake one). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * The buffer the next read fills: the arena's free tail, or a new arena.
   *
   * While large frames flow (the last one was at least LARGE_FRAME), a read is
   * cut to end where a frame like the last one would end, so the arena holds
   * whole frames and the next frame starts in the next arena instead of being
   * moved there half-read. A frame larger than half an arena is read in two
   * steps: enough to learn its length, then the rest straight into an arena of
   * its size. Small frames read the whole free tail: moving a partial small
   * frame costs little.
   */
  readonly nextBuffer = (): Buffer => {
    const decoder = this.decoder;
    const missing = decoder.missingBytes;
    const pending = decoder.bufferedBytes;
    const typical = decoder.lastFrameSize;
    const large = typical >= LARGE_FRAME;
    const huge = typical > this.maxArenaSize / 2;
    // Room this read needs: the rest of the pending frame, or a whole frame like the last.
    const need = missing > 0 ? missing : large && !huge ? typical - pending : 0;
    const minRoom = Math.max(need, 1, Math.min(MIN_READ, this.arena.length >>> 2));
    let room = this.arena.length - this.pos;
    if (room < minRoom) {
      const now = this.now();
      if (this.arena !== EMPTY) {
        const busy = now - this.arenaSince < ARENA_BUSY_MS;
        this.nextSize = busy ? Math.min(this.maxArenaSize, this.nextSize * 2) : Math.max(FIRST_ARENA_SIZE, this.nextSize >>> 1);
      }
      this.arenaSince = now;
      if (
        this.arena.length === this.nextSize &&
        pending + minRoom <= this.nextSize &&
        decoder.viewsHandedOut === this.viewsAtArenaStart &&
        decoder.moveBufferedWithin(this.arena)
      ) {
        // No view of this arena escaped: read into it again from the start.
        this.arenasReused++;
      } else {
        const arena = Buffer.allocUnsafeSlow(Math.max(this.nextSize, pending + minRoom));
        this.arenasAllocated++;
        decoder.moveBufferedTo(arena);
        this.arena = arena;
      }
      this.viewsAtArenaStart = decoder.viewsHandedOut;
      this.pos = pending;
      room = this.arena.length - pending;
    }
    let length = room;
    if (huge) {
      length = missing > 0 ? missing : Math.min(room, MIN_READ);
    } else if (large) {
      // The rest of the current frame (which began `pending` bytes ago when its length is not known
      // yet), then as many whole frames like the last as fit.
      const frameRest = missing > 0 ? missing : -pending;
      length = frameRest + Math.floor((room - frameRest) / typical) * typical;
    }
    return this.arena.subarray(this.pos, this.pos + Math.max(1, Math.min(room, length)));
  };

  /** A read put `n` bytes at the start of `buf` (the last nextBuffer()). True: keep reading. */
  readonly onRead = (n: number, buf: Uint8Array): boolean => {
    this.pos = buf.byteOffset - this.arena.byteOffset + n;
    this.onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
    return true;
  };

  /** For `net.connect({ onread })`. */
  get onread(): { buffer: () => Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
    return { buffer: this.nextBuffer, callback: this.onRead };
  }
}

/** The three fields of net.Socket that its `onread` option sets. */
interface OnreadSymbols {
  buffer: symbol;
  bufferGen: symbol;
  bufferCb: symbol;
}

let onreadSymbols: OnreadSymbols | null | undefined;

function findOnreadSymbols(socket: Socket): OnreadSymbols | null {
  if (onreadSymbols !== undefined) return onreadSymbols;
  const byName = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const buffer = byName.get('kBuffer');
  const bufferGen = byName.get('kBufferGen');
  const bufferCb = byName.get('kBufferCb');
  onreadSymbols = buffer !== undefined && bufferGen !== undefined && bufferCb !== undefined ? { buffer, bufferGen, bufferCb } : null;
  return onreadSymbols;
}

interface HandleWithUserBuffer {
  useUserBuffer?: (buf: Uint8Array) => void;
  reading?: boolean;
}

/**
 * Switches an accepted socket that has not started reading (the server was
 * created with `pauseOnConnect`) to arena reads, then starts reading. Returns
 * false, leaving the socket untouched and paused, when this Node does not
 * allow it; the caller then listens for 'data' (which also starts reading).
 */
export function adoptArenaReads(socket: Socket, arena: ReadArena): boolean {
  const handle = (socket as unknown as { _handle?: HandleWithUserBuffer | null })._handle;
  const symbols = findOnreadSymbols(socket);
  if (symbols === null || handle == null || typeof handle.useUserBuffer !== 'function' || handle.reading === true) return false;
  const target = socket as unknown as Record<symbol, unknown>;
  if (target[symbols.buffer] !== null || target[symbols.bufferGen] !== null || target[symbols.bufferCb] !== null) return false;
  const first = arena.nextBuffer();
  target[symbols.buffer] = first;
  target[symbols.bufferGen] = arena.nextBuffer;
  target[symbols.bufferCb] = arena.onRead;
  handle.useUserBuffer(first);
  socket.resume();
  return true;
}
