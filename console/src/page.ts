// What the router needs of a page.
export interface Page {
  el: HTMLElement;
  /** Breadcrumb after "ortserve": the page's name. */
  title: string;
  /** Reads the server again (called at once and every few seconds while the page shows). */
  refresh(): Promise<void>;
  destroy(): void;
}

export const REFRESH_MS = 3000;
