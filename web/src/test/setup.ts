// jsdom does not implement scrolling; the router scrolls to the top on navigation.
// (Script tests run in the node environment, which has no window.)
if (typeof window !== 'undefined') window.scrollTo = () => {};
