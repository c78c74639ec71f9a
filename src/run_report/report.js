(function(){
var d=document,info=d.getElementById("info"),filter=d.getElementById("filter");
if(filter){filter.hidden=false;filter.addEventListener("input",function(){var q=filter.value.toLowerCase();
d.querySelectorAll("[data-task]").forEach(function(e){var hit=!q||e.dataset.task.toLowerCase().indexOf(q)>=0||e.dataset.status.indexOf(q)>=0;e.style.display=hit?"":"none";});});}
function show(e){var a=e.target.closest&&e.target.closest("a.row");var t=a&&a.querySelector("title");if(t&&info){info.textContent=t.textContent;}}
d.addEventListener("focusin",show);d.addEventListener("mouseover",show);
window.addEventListener("beforeprint",function(){d.querySelectorAll("details").forEach(function(e){e.open=true;});});
void d.body.offsetHeight;d.documentElement.setAttribute("data-laid-out-ms",performance.now().toFixed(0));
})();
window.addEventListener("hashchange",function(){var e=document.getElementById(location.hash.slice(1));if(e&&e.tagName==="DETAILS"){e.open=true;}});
