/**
 * The `hugeReply` fault: a 200 whose body is `hugeReplyBytes` long, sent chunked (no
 * `content-length`, so a client cannot refuse it from the headers) and only as fast as the client
 * reads it, so the bytes the simulator wrote tell how much the client took before it gave up.
 * Non-streaming requests get one valid chat completion with that much content; streaming ones get
 * content frames until the size is reached, then the closing frames.
 */
import type { ServerResponse } from "node:http";
import type { ChatRequest } from "./chat-request.js";
import type { Protocol, ReplyContext } from "./protocol.js";
import type { Reply } from "./reply-planner.js";
import type { JobTiming } from "./scheduler.js";
import type { SimulatorState } from "./simulator-state.js";

/** Default size of a huge reply: 64 MiB. */
export const defaultHugeReplyBytes = 64 * 1024 * 1024;

const chunkBytes = 64 * 1024;
const marker = "@@HUGE@@";
const noTiming: JobTiming = { queueMs: 0, ttftMs: 0, e2eMs: 0 };

export function sendHugeReply(state: SimulatorState, protocol: Protocol, response: ServerResponse, chat: ChatRequest, context: ReplyContext): void {
  const total = state.planner.faults.hugeReplyBytes ?? defaultHugeReplyBytes;
  const reply: Reply = { content: marker, promptTokens: 0, completionTokens: Math.ceil(total / 4), finishReason: "length" };
  let head: string;
  let tail: string;
  let filler: string;
  if (chat.stream) {
    head = protocol.streamStart(context);
    tail = protocol.streamEnd(reply, context, noTiming);
    filler = protocol.streamDelta("x".repeat(chunkBytes - 200), context);
  } else {
    const [before = "", after = ""] = protocol.completeBody(reply, context, noTiming).split(marker);
    head = before;
    tail = after;
    filler = "x".repeat(chunkBytes);
  }
  response.writeHead(200, { "content-type": chat.stream ? protocol.streamContentType : "application/json" });
  let left = Math.max(0, total - Buffer.byteLength(head) - Buffer.byteLength(tail));
  const write = (text: string): boolean => {
    state.hugeReplyBytesSent += Buffer.byteLength(text);
    return response.write(text);
  };
  write(head);
  const pump = (): void => {
    while (left > 0 && !response.destroyed) {
      // A stream frame is never cut (each stays valid); a JSON body's filler is cut to size.
      const piece = chat.stream || left >= filler.length ? filler : filler.slice(0, left);
      left = Math.max(0, left - piece.length);
      if (!write(piece)) {
        response.once("drain", pump);
        return;
      }
    }
    if (!response.destroyed) {
      state.hugeReplyBytesSent += Buffer.byteLength(tail);
      response.end(tail);
    }
  };
  pump();
}
