/**
 * Preload (sandboxed, CommonJS): exposes window.atlas and nothing else. Each method is an
 * ipcRenderer.invoke on a fixed channel; the renderer never sees ipcRenderer itself.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createApi } from './create-api';

contextBridge.exposeInMainWorld(
  'atlas',
  createApi((channel, arg) => ipcRenderer.invoke(channel, arg)),
);
