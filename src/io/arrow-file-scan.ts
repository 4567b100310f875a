/**
 * Reads an Arrow IPC file's schema and the row counts of its record batches from the message
 * headers alone, jumping over the bodies: `totalRows()` and column checks without decoding the data.
 * Handles the stream format (what `datasets` save_to_disk writes), the file format (`ARROW1` magic)
 * and the pre-0.15 framing without the 0xFFFFFFFF continuation marker. Detects truncation.
 */
import { open } from "node:fs/promises";
import { Message, RecordBatchReader, type Schema } from "apache-arrow";

const FILE_MAGIC = "ARROW1";
const CONTINUATION = -1;

export interface ArrowFileScan {
  schema: Schema;
  batchLengths: number[];
}

export async function scanArrowFile(path: string): Promise<ArrowFileScan> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const fileFormat = prefix.toString("latin1", 0, 6) === FILE_MAGIC;
    let position = fileFormat ? 8 : 0;
    let schema: Schema | undefined;
    const batchLengths: number[] = [];
    while (position + 8 <= size) {
      const head = Buffer.alloc(8);
      await handle.read(head, 0, 8, position);
      const first = head.readInt32LE(0);
      const framing = first === CONTINUATION ? 8 : 4;
      const metadataLength = first === CONTINUATION ? head.readInt32LE(4) : first;
      if (metadataLength === 0) break; // end-of-stream marker
      if (metadataLength < 0 || position + framing + metadataLength > size) throw truncated(position);
      const metadata = Buffer.alloc(metadataLength);
      await handle.read(metadata, 0, metadataLength, position + framing);
      const message = Message.decode(metadata);
      if (message.isSchema()) schema ??= message.header();
      if (message.isRecordBatch()) batchLengths.push(Number(message.header().length));
      position += framing + metadataLength + Number(message.bodyLength);
      if (position > size) throw truncated(position);
    }
    // the file format may keep its schema only in the footer
    if (schema === undefined && fileFormat) schema = (await (await RecordBatchReader.from(handle)).open()).schema;
    if (schema === undefined) throw new Error("no schema message");
    return { schema, batchLengths };
  } finally {
    await handle.close();
  }
}

function truncated(position: number): Error {
  return new Error(`the file is truncated (a message at byte ${position} runs past its end)`);
}
