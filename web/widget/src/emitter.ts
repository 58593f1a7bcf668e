export type Listener = (...args: any[]) => void;

export class Emitter {
  private ls: Record<string, Listener[]> = {};
  on(ev: string, fn: Listener): () => void {
    (this.ls[ev] = this.ls[ev] || []).push(fn);
    return () => {
      const a = this.ls[ev];
      if (a) this.ls[ev] = a.filter((f) => f !== fn);
    };
  }
  emit(ev: string, ...args: any[]): void {
    const a = this.ls[ev];
    if (!a) return;
    for (const fn of a.slice()) {
      try {
        fn(...args);
      } catch (e) {
        // A host page listener must never break the widget.
        try {
          console.error('[custos]', e);
        } catch {
          /* ignore */
        }
      }
    }
  }
}
