// The project's Server-Sent Events, read with fetch so that the token travels in the
// Authorization header (EventSource cannot send one). Resumes after its last event id.

/**
 * Follows `/api/v1/events?project=…`; calls `onEvent(cloudEvent)` for each event and
 * `onState(open)` as the stream opens and drops. Returns a function that stops it.
 */
export function follow(project, token, onEvent, onState = () => {}) {
  const controller = new AbortController();
  let lastId = null;
  let retry = 500;
  let stopped = false;

  async function connect() {
    const headers = { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' };
    if (lastId) headers['Last-Event-ID'] = lastId;
    const response = await fetch(`/api/v1/events?project=${encodeURIComponent(project)}`, {
      headers,
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
    onState(true);
    retry = 500;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    let data = '';
    let id = null;
    for (const line of block.split('\n')) {
      if (line.startsWith('data:')) data += line.slice(5).trimStart();
      else if (line.startsWith('id:')) id = line.slice(3).trim();
    }
    if (id) lastId = id;
    if (!data) return;
    try {
      onEvent(JSON.parse(data));
    } catch (error) {
      console.warn('event not understood', error);
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await connect();
      } catch (error) {
        if (stopped) return;
        console.warn(error);
      }
      onState(false);
      if (stopped) return;
      await new Promise((resolve) => setTimeout(resolve, retry));
      retry = Math.min(retry * 2, 10000);
    }
  })();

  return () => {
    stopped = true;
    controller.abort();
  };
}
