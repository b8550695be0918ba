/** A one-line progress bar on a terminal (nothing when the stream is not one, e.g. in CI logs). */
export interface Progress {
  update(done: number, total: number, label?: string): void;
  done(): void;
}

export function progressBar(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  const on = enabled && stream.isTTY === true;
  const started = performance.now();
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total, label = "") {
      if (!on) return;
      const now = performance.now();
      if (done < total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 30;
      const share = total === 0 ? 1 : done / total;
      const filled = Math.round(share * width);
      const elapsed = (now - started) / 1000;
      const eta = share > 0 && share < 1 ? ` ETA ${Math.ceil((elapsed / share) * (1 - share))} s` : "";
      stream.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${done}/${total} ${label}${eta}\x1b[K`);
      drawn = true;
    },
    done() {
      if (on && drawn) stream.write("\n");
      drawn = false;
    },
  };
}
