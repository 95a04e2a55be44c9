// Public API of this package (work in progress).
export {};
