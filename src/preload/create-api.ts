/**
 * createApi(invoke) → the typed window.atlas. The preload passes ipcRenderer.invoke; browser
 * tests and the web mode pass a transport with the same shape, so every caller drives the same
 * main-side handlers. No electron import here, on purpose.
 */
import { CHANNELS, type AtlasApi, type Channel } from '../shared/api';

export type Invoke = (channel: Channel, arg?: unknown) => Promise<unknown>;

export function createApi(invoke: Invoke): AtlasApi {
  return {
    modelInfo: () => invoke(CHANNELS.modelInfo) as ReturnType<AtlasApi['modelInfo']>,
    analyze: (req) => invoke(CHANNELS.analyze, req) as ReturnType<AtlasApi['analyze']>,
    headDetail: (req) => invoke(CHANNELS.headDetail, req) as ReturnType<AtlasApi['headDetail']>,
    contribution: (req) => invoke(CHANNELS.contribution, req) as ReturnType<AtlasApi['contribution']>,
    inductionProbe: () => invoke(CHANNELS.inductionProbe) as ReturnType<AtlasApi['inductionProbe']>,
    trainingHistory: () => invoke(CHANNELS.trainingHistory) as ReturnType<AtlasApi['trainingHistory']>,
    explainScore: (req) => invoke(CHANNELS.explainScore, req) as ReturnType<AtlasApi['explainScore']>,
    ablate: (req) => invoke(CHANNELS.ablate, req) as ReturnType<AtlasApi['ablate']>,
    predictions: (req) => invoke(CHANNELS.predictions, req) as ReturnType<AtlasApi['predictions']>,
    exportData: (req) => invoke(CHANNELS.exportData, req) as ReturnType<AtlasApi['exportData']>,
    saveFile: (req) => invoke(CHANNELS.saveFile, req) as ReturnType<AtlasApi['saveFile']>,
    library: () => invoke(CHANNELS.library) as ReturnType<AtlasApi['library']>,
    useModel: (req) => invoke(CHANNELS.useModel, req) as ReturnType<AtlasApi['useModel']>,
    download: (req) => invoke(CHANNELS.download, req) as ReturnType<AtlasApi['download']>,
    cancelDownload: () => invoke(CHANNELS.cancelDownload) as ReturnType<AtlasApi['cancelDownload']>,
    removeModel: (req) => invoke(CHANNELS.removeModel, req) as ReturnType<AtlasApi['removeModel']>,
    removeGraph: (req) => invoke(CHANNELS.removeGraph, req) as ReturnType<AtlasApi['removeGraph']>,
    openFolder: () => invoke(CHANNELS.openFolder) as ReturnType<AtlasApi['openFolder']>,
    openFile: () => invoke(CHANNELS.openFile) as ReturnType<AtlasApi['openFile']>,
    completeModel: (req) => invoke(CHANNELS.completeModel, req) as ReturnType<AtlasApi['completeModel']>,
    showInFolder: (req) => invoke(CHANNELS.showInFolder, req) as ReturnType<AtlasApi['showInFolder']>,
  };
}
