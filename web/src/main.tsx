import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './design/styles.css';
import './app.css';
import { Router } from './router';
import { CatalogProvider, SessionProvider } from './session';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <Router>
      <CatalogProvider>
        <SessionProvider>
          <App />
        </SessionProvider>
      </CatalogProvider>
    </Router>
  </StrictMode>,
);
