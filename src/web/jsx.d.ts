// Custom elements used by pages, so JSX type-checks them.
declare namespace JSX {
  interface IntrinsicElements {
    'altcha-widget': HtmlTag & {
      challengeurl?: string;
      challenge?: string;
      name?: string;
      auto?: string;
      strings?: string;
      hidefooter?: boolean;
      maxnumber?: number;
    };
  }
}
