/** The few DOM helpers the pages share: no framework, elements built with their text (never parsed HTML). */

type Child = Node | string | undefined;

/** A new element with attributes and children; text children become text nodes, so nothing is parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) if (child !== undefined) element.append(child);
  return element;
}

/** The element with this id, which the page's HTML must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Shows or hides an element (the `hidden` attribute, which assistive technology honours too). */
export function show(element: HTMLElement, visible: boolean): void {
  element.hidden = !visible;
}

/** "0x1234…cdef": an address or hash short enough for a narrow screen (the full value goes in a title). */
export function shorten(hex: string, keep = 6): string {
  return hex.length <= keep * 2 + 3 ? hex : `${hex.slice(0, keep)}…${hex.slice(-keep + 2)}`;
}
