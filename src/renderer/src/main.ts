import { mount } from 'svelte';
import './lib/locale.svelte';
import App from './App.svelte';
import './styles.css';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
export default mount(App, { target });
